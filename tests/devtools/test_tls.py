"""The generated TLS material, checked with real TLS handshakes (Python's ssl module on
both ends, in memory): who trusts whom, which names the broker certificate covers."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import pytest

from devtools.kafka.tls import TlsMaterial, client_ssl_context, ensure_tls_material


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    if shutil.which("openssl") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("openssl is required in CI")
        pytest.skip("openssl not installed")
    return ensure_tls_material(tmp_path_factory.mktemp("tls") / "tls")


def _server(material: TlsMaterial, require_client_cert: bool = False) -> ssl.SSLContext:
    # The broker's own key store file: key first, then its chain, as Kafka reads it.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material.broker_keystore)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(material.ca_file)
    return context


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext, server_hostname: str) -> None:
    """Run a TLS handshake between the two contexts in memory; raises ssl.SSLError on failure."""
    c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(20):
        for name, end, out, peer_in in (("c", c, c_out, s_in), ("s", s, s_out, c_in)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
            peer_in.write(out.read())
        if all(done.values()):
            # TLS 1.3: the server checks the client certificate after the client's handshake
            # ends; a refusal then arrives as an alert on the first read.
            s.write(b"x")
            c_in.write(s_out.read())
            assert c.read(1) == b"x"
            return
    raise AssertionError("handshake did not finish")


def test_clients_trusting_the_ca_accept_the_broker_under_the_names_it_has(material: TlsMaterial) -> None:
    for name in ("127.0.0.1", "localhost"):
        _handshake(client_ssl_context(material.ca_file), _server(material), name)
    assert material.broker_names == ("IP:127.0.0.1", "DNS:localhost")


def test_another_name_fails_the_hostname_check_only(material: TlsMaterial) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match=r"127\.0\.0\.2"):
        _handshake(client_ssl_context(material.ca_file), _server(material), "127.0.0.2")
    _handshake(client_ssl_context(material.ca_file, check_hostname=False), _server(material), "127.0.0.2")


def test_the_wrong_ca_does_not_vouch_for_the_broker(material: TlsMaterial) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client_ssl_context(material.wrong_ca_file), _server(material), "127.0.0.1")


def test_client_certificates(material: TlsMaterial) -> None:
    server = _server(material, require_client_cert=True)
    _handshake(client_ssl_context(material.ca_file, material.client_cert, material.client_key), server, "127.0.0.1")
    with pytest.raises(ssl.SSLError):
        _handshake(client_ssl_context(material.ca_file), server, "127.0.0.1")
    with pytest.raises(ssl.SSLError):
        _handshake(
            client_ssl_context(material.ca_file, material.wrong_client_cert, material.wrong_client_key),
            server,
            "127.0.0.1",
        )


def test_material_is_made_once(material: TlsMaterial) -> None:
    before = {p.name: p.stat().st_mtime_ns for p in material.directory.iterdir()}
    assert ensure_tls_material(material.directory) == material
    assert {p.name: p.stat().st_mtime_ns for p in material.directory.iterdir()} == before
    assert oct(material.client_key.stat().st_mode & 0o777) == "0o600"
    assert material.client_principal == "User:CN=auditpipe-client"
    assert Path(material.broker_keystore).read_text().startswith("-----BEGIN PRIVATE KEY-----")
