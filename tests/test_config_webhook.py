"""Configs of the webhook source and the HTTP output: the shipped examples load
with their TLS block switched on, and `config check` refuses, naming the path,
what `run` would fail on (unreadable TLS files, a body limit over the record
limit, a port used twice, TLS on an http:// URL)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline import config as config_mod
from pipeline.config import HttpOutput, WebhookSource
from pipeline.errors import ConfigError

from .conftest import ROOT

WEBHOOK_EXAMPLES = [ROOT / "configs" / "webhook-to-falco.yaml", ROOT / "configs" / "webhook-to-kafka.yaml"]
_COMMENTED_TLS = re.compile(r"^(\s*)# ((?:tls:|  cert_file:|  key_file:|  client_ca_file:|bearer_token:).*)$", re.M)


def with_tls_switched_on(path: Path, tmp_path: Path) -> Path:
    """The example with its commented `tls` and `bearer_token` lines uncommented, in ``tmp_path``."""
    text, count = _COMMENTED_TLS.subn(r"\1\2", path.read_text())
    assert count == 5, "the example's TLS block changed shape"
    (tmp_path / "policies").mkdir(exist_ok=True)
    shutil.copy(ROOT / "configs" / "policies" / "security.yaml", tmp_path / "policies" / "security.yaml")
    out = tmp_path / path.name
    out.write_text(text)
    return out


@pytest.mark.parametrize("example", WEBHOOK_EXAMPLES, ids=lambda p: p.name)
def test_examples_in_a_cluster_load_with_tls(example: Path, tmp_path: Path, tls_files: Any) -> None:
    tls_dir = tmp_path / "tls"
    tls_dir.mkdir()
    shutil.copy(tls_files.server_cert, tls_dir / "tls.crt")
    shutil.copy(tls_files.server_key, tls_dir / "tls.key")
    shutil.copy(tls_files.ca, tls_dir / "apiserver-ca.crt")
    env = {"WEBHOOK_TLS_DIR": str(tls_dir), "WEBHOOK_TOKEN": "t0ken", "WEBHOOK_HOST": "0.0.0.0"}
    config = config_mod.load(with_tls_switched_on(example, tmp_path), env=env)
    (source,) = config.sources
    assert isinstance(source, WebhookSource) and source.tls is not None
    assert source.tls.client_ca_file == str(tls_dir / "apiserver-ca.crt")
    assert source.bearer_token == "t0ken"
    assert "t0ken" not in str(config_mod.masked(config))
    # Without the files, `config check` says which ones, where.
    with pytest.raises(ConfigError) as error:
        config_mod.load(with_tls_switched_on(example, tmp_path), env={**env, "WEBHOOK_TLS_DIR": "/nonexistent"})
    message = str(error.value)
    for name in ("cert_file", "key_file", "client_ca_file"):
        assert f"- at `$.sources[0].tls.{name}`" in message
    assert "cannot read /nonexistent/tls.crt" in message
    # And without the token variable, the variable is named.
    with pytest.raises(ConfigError, match="WEBHOOK_TOKEN is not set"):
        config_mod.load(with_tls_switched_on(example, tmp_path), env={"WEBHOOK_TLS_DIR": str(tls_dir)})


def test_the_falco_example_is_what_falco_expects() -> None:
    config = config_mod.load(WEBHOOK_EXAMPLES[0], env={})
    falco = config.default_output
    assert isinstance(falco, HttpOutput)
    assert falco.url == "http://127.0.0.1:9765/k8s-audit"
    assert (falco.max_batch_bytes, falco.max_event_bytes) == (12 * 1024 * 1024, 256 * 1024)
    assert falco.require_stage_timestamp
    assert config.policy == str(ROOT / "configs" / "policies" / "security.yaml")


WEBHOOK = "sources:\n  - {type: webhook, port: 8443%s}\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            WEBHOOK % ", tls: {cert_file: /nonexistent/c.pem, key_file: /nonexistent/k.pem}",
            "cannot read /nonexistent/c.pem - at `$.sources[0].tls.cert_file`",
        ),
        (WEBHOOK % ", tls: {cert_file: c.pem}", "missing required field `key_file` - at `$.sources[0].tls`"),
        (
            WEBHOOK % ", max_body_bytes: 20000000",
            "max_body_bytes (20000000) is over limits.max_record_bytes (8388608)",
        ),
        (WEBHOOK % ", path: audit", "at `$.sources[0].path`"),
        (WEBHOOK % ", max_inflight_requests: 0", "Expected `int` >= 1 - at `$.sources[0].max_inflight_requests`"),
        (WEBHOOK % ", ack_timeout_secs: 0", "at `$.sources[0].ack_timeout_secs`"),
        (WEBHOOK % ", bearer_token: ''", "at `$.sources[0].bearer_token`"),
        (WEBHOOK % "" + "metrics: {port: 8443}\n", "port 8443 is also used by `$.metrics` - at `$.sources[0].port`"),
        (
            "sources:\n  - {type: webhook, port: 9000}\n  - {type: webhook, port: 9000, host: 127.0.0.1}\n",
            "port 9000 is also used by `$.sources[0]` - at `$.sources[1].port`",
        ),
        (
            "default_output: {type: http, name: f, url: 'http://falco:9765/k8s-audit', tls: {ca_file: x}}\n",
            "`tls` is set but the url is http:// (use https://) - at `$.default_output.tls`",
        ),
        (
            "default_output: {type: http, name: f, url: 'https://falco/k8s-audit', tls: {ca_file: /nonexistent/ca}}\n",
            "cannot read /nonexistent/ca - at `$.default_output.tls.ca_file`",
        ),
        (
            "outputs:\n  - {type: http, name: f, url: 'https://falco/k8s-audit', tls: {key_file: /etc/hostname}}\n",
            "`key_file` without `cert_file` - at `$.outputs[0].tls`",
        ),
        ("default_output: {type: http, name: f, url: 'falco:9765'}\n", "at `$.default_output.url`"),
        (
            "default_output: {type: http, name: f, url: 'http://f', retry_backoff_initial_secs: 60}\n",
            "retry_backoff_initial_secs is over retry_backoff_max_secs - at `$.default_output`",
        ),
    ],
)
def test_refused_with_the_path(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_mod.loads(text, "c.yaml")
    assert fragment in str(error.value)


def test_defaults() -> None:
    config = config_mod.loads(WEBHOOK % "")
    (source,) = config.sources
    assert isinstance(source, WebhookSource)
    assert (source.host, source.port, source.path, source.tls) == ("0.0.0.0", 8443, "/audit", None)
    assert source.max_body_bytes is None  # limits.max_record_bytes
    raised = config_mod.loads(WEBHOOK % ", max_body_bytes: 10485760" + "limits: {max_record_bytes: 16777216}\n")
    assert raised.sources[0].max_body_bytes == 10485760  # type: ignore[union-attr]


def test_run_refuses_workers_with_a_webhook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(WEBHOOK % "")
    assert main(["run", "--config", str(config), "--workers", "2"]) == 2
    assert "a webhook listens on one port" in capsys.readouterr().err
