"""TLS material for the webhook and HTTP output tests, made with ``trustme``:
a CA, a server certificate for 127.0.0.1/localhost, a client certificate from
the CA (as in kube-apiserver's webhook kubeconfig), and a client certificate
from another CA that must be refused."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    wrong_ca: Path
    wrong_client_cert: Path
    wrong_client_key: Path

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        if require_client_cert:
            context.load_verify_locations(cafile=self.ca)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def client_context(self, with_cert: bool = True) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        if with_cert:
            context.load_cert_chain(self.client_cert, self.client_key)
        return context


def make_tls_files(directory: Path) -> TlsFiles:
    directory.mkdir(parents=True, exist_ok=True)
    ca, wrong_ca = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("kube-apiserver", common_name="kube-apiserver")
    wrong_client = wrong_ca.issue_cert("kube-apiserver", common_name="kube-apiserver")
    files = TlsFiles(*(directory / name for name in (
        "ca.pem", "server.pem", "server.key", "client.pem", "client.key", "wrong-ca.pem", "wrong-client.pem",
        "wrong-client.key",
    )))  # fmt: skip
    ca.cert_pem.write_to_path(str(files.ca))
    wrong_ca.cert_pem.write_to_path(str(files.wrong_ca))
    for leaf, cert, key in (
        (server, files.server_cert, files.server_key),
        (client, files.client_cert, files.client_key),
        (wrong_client, files.wrong_client_cert, files.wrong_client_key),
    ):
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
    return files
