"""Configs: every shipped one loads; everything `run` would refuse, `config check`
refuses first, naming the path; ${VAR} interpolation; paths relative to the file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pipeline import config as config_mod
from pipeline.cli import main
from pipeline.errors import ConfigError
from pipeline.logs import JsonFormatter, LogfmtFormatter

from .conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
KAFKA = "kafka: {bootstrap_servers: '127.0.0.1:9092'}\n"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_with_their_policy(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(path)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "outputs:\n  - {type: file, name: a, path: x, selecter: {}}\n",
            "unknown field `selecter` - at `$.outputs[0]`",
        ),
        ("outputs:\n  - {name: a, path: x}\n", "missing required field `type` - at `$.outputs[0]`"),
        ("kafka:\n  compression: brotli\n", "at `$.kafka.compression`"),
        ("limits:\n  max_record_bytes: lots\n", "Expected `int`, got `str` - at `$.limits.max_record_bytes`"),
        ("limits:\n  max_record_bytes: 0\n", "Expected `int` >= 1 - at `$.limits.max_record_bytes`"),
        (
            "outputs:\n  - {type: file, name: a, path: x}\n  - {type: file, name: a, path: y}\n",
            "output names must be unique, repeated: a",
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x, selector: {levels: [None]}}\n",
            "at `$.outputs[0].selector.levels[0]`",
        ),
        ("outputs:\n  - {type: file, name: '', path: x}\n", "Expected `str` of length >= 1 - at `$.outputs[0].name`"),
        ("kafka: [1, 2]\n", "at `$.kafka`"),
        ("a: [unclosed\n", "c.yaml:2: not valid YAML"),
        ("metrics: {port: 99999}\n", "Expected `int` <= 65535 - at `$.metrics.port`"),
        ("metrics: {port: 0}\n", "Expected `int` >= 1 - at `$.metrics.port`"),
        # Everything `run` would refuse later:
        ("outputs:\n  - {type: kafka, name: a, topic: t}\n", "needs the `kafka` section - at `$.outputs[0]`"),
        ("outputs:\n  - {type: kafka, name: a}\n" + KAFKA, "missing required field `topic` - at `$.outputs[0]`"),
        (
            "kafka: {bootstrap_servers: '127.0.0.1:notaport'}\n",
            "`127.0.0.1:notaport` is not host:port (port 1-65535) - at `$.kafka.bootstrap_servers`",
        ),
        ("kafka: {security_protocol: SASL_SSL}\n", "needs `sasl` (mechanism, username, password) - at `$.kafka.sasl`"),
        (
            "kafka: {security_protocol: SASL_PLAINTEXT, sasl: {username: u}}\n",
            "missing required field `password` - at `$.kafka.sasl`",
        ),
        ("kafka: {sasl: {username: u, password: p}}\n", "`sasl` is set but security_protocol is PLAINTEXT"),
        ("kafka: {tls: {check_hostname: false}}\n", "`tls` is set but security_protocol is PLAINTEXT"),
        (
            "kafka: {security_protocol: SSL, tls: {ca_file: /nonexistent/ca.pem}}\n",
            "cannot read /nonexistent/ca.pem - at `$.kafka.tls.ca_file`",
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x, selector: {nonResourceURLs: [healthz]}}\n",
            '$.outputs[0].selector.nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules must begin',
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x, selector: {nonResourceURLs: ['/a*b']}}\n",
            "wildcards '*' must be the final character",
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x, selector: {resources: [{group: Apps}]}}\n",
            '$.outputs[0].selector.resources.group: Invalid value: "Apps"',
        ),
        ('enrichment: {annotation_prefix: "a\\0/"}\n', "not a legal annotation-key prefix"),
        ('enrichment: {annotation_prefix: "with space/"}\n', "not a legal annotation-key prefix"),
        ("enrichment: {annotation_prefix: " + "x" * 300 + "}\n", "Expected `str` of length <= 240"),
        ("delivery: {max_inflight_batches: 0}\n", "Expected `int` >= 1 - at `$.delivery.max_inflight_batches`"),
        (
            "sources:\n  - {type: file, paths: [in.jsonl]}\noutputs:\n  - {type: file, name: a, path: in.jsonl}\n",
            "in.jsonl is also an input: it would feed on itself - at `$.outputs[0].path`",
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x}\n  - {type: file, name: b, path: x}\n",
            "outputs a and b both write to",
        ),
        ("a: 1\nb: 2\na: 3\n", "c.yaml:3: duplicate key `a`"),
        ("? {x: 1}\n: 2\n", "c.yaml:1: a mapping key must be a plain value, not a mapping"),
        ("x:" + " [" * 300 + " ]" * 300 + "\n", "nested more than 64 levels deep"),
    ],
)
def test_bad_config_names_the_path(text: str, fragment: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.loads(text, "c.yaml", base_dir=tmp_path)
    assert fragment in str(info.value)
    assert str(info.value).startswith("c.yaml")


def test_numbers_written_loosely_are_read_as_numbers() -> None:
    # YAML 1.1 reads 1.5e6 as a string; a byte count written that way is still a byte count.
    assert config_mod.loads("limits: {max_record_bytes: 1.5e6}\n").limits.max_record_bytes == 1_500_000


def test_every_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "p.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None}]\n")
    (sub / "ca.pem").write_text("not checked here")
    cfg = sub / "c.yaml"
    cfg.write_text(
        "policy: p.yaml\nsources: [{type: file, paths: [in.jsonl, '-']}]\n"
        "outputs: [{type: file, name: a, path: out/a.jsonl}]\n"
        "default_output: {type: file, name: rest, path: '-'}\n"
        "dead_letters: {type: file, path: rejects.jsonl}\n"
        "kafka: {security_protocol: SSL, tls: {ca_file: ca.pem}}\n"
    )
    loaded = config_mod.load(cfg)
    assert loaded.policy == str(sub / "p.yaml")
    assert loaded.sources[0].paths == [str(sub / "in.jsonl"), "-"]  # type: ignore[union-attr]
    assert loaded.outputs[0].path == str(sub / "out" / "a.jsonl")  # type: ignore[union-attr]
    assert loaded.default_output.path == "-"  # type: ignore[union-attr]
    assert loaded.dead_letters.path == str(sub / "rejects.jsonl")  # type: ignore[union-attr]
    assert loaded.kafka is not None and loaded.kafka.tls is not None
    assert loaded.kafka.tls.ca_file == str(sub / "ca.pem")


def test_run_from_another_directory_resolves_against_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    sample = (ROOT / "pipeline" / "data" / "sample-events.jsonl").read_bytes()
    (sub / "in.jsonl").write_bytes(b"".join(sample.splitlines(keepends=True)[:30]))
    (sub / "c.yaml").write_text(
        "sources: [{type: file, paths: [in.jsonl]}]\ndefault_output: {type: file, name: rest, path: out.jsonl}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["run", "--config", "../sub/c.yaml"]) == 0, capfd.readouterr().err
    assert (sub / "out.jsonl").stat().st_size > 0
    assert not (elsewhere / "out.jsonl").exists()


class TestInterpolation:
    def test_values_come_from_the_environment(self) -> None:
        text = (
            "kafka:\n  bootstrap_servers: ${BROKERS}\n  security_protocol: SASL_SSL\n"
            "  sasl: {mechanism: SCRAM-SHA-512, username: '${USER_NAME:-auditpipe}', password: '${PW:?set PW}'}\n"
            "metrics: {port: '${PORT}'}\nenrichment: {cluster_name: 'cost$$center'}\n"
        )
        cfg = config_mod.loads(text, env={"BROKERS": "b1:9093,b2:9093", "PW": "s3cr#t: x", "PORT": "9500"})
        assert cfg.kafka is not None and cfg.kafka.sasl is not None
        assert cfg.kafka.bootstrap_servers == "b1:9093,b2:9093"
        assert cfg.kafka.sasl.username == "auditpipe"
        assert cfg.kafka.sasl.password == "s3cr#t: x"  # a value never changes the document's structure
        assert cfg.metrics.port == 9500
        assert cfg.enrichment.cluster_name == "cost$center"

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            (
                "enrichment: {cluster_name: '${NOPE}'}\n",
                "environment variable NOPE is not set - at `$.enrichment.cluster_name`",
            ),
            (
                "enrichment: {cluster_name: '${NOPE:?the cluster name}'}\n",
                "environment variable NOPE is required: the cluster name",
            ),
            ("enrichment: {cluster_name: '${EMPTY:?must not be empty}'}\n", "EMPTY is required: must not be empty"),
            ("enrichment: {cluster_name: 'a${b'}\n", "unclosed `${`"),
            ("enrichment: {cluster_name: '${1x}'}\n", "is not a variable reference"),
        ],
    )
    def test_errors_name_the_variable(self, text: str, fragment: str) -> None:
        with pytest.raises(ConfigError) as info:
            config_mod.loads(text, "c.yaml", env={"EMPTY": ""})
        assert str(info.value).startswith("c.yaml: ") and fragment in str(info.value)

    def test_unset_variable_exits_two(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("AUDITPIPE_TEST_UNSET", raising=False)
        cfg = tmp_path / "c.yaml"
        cfg.write_text("enrichment: {cluster_name: '${AUDITPIPE_TEST_UNSET}'}\n")
        assert main(["config", "check", str(cfg)]) == 2
        assert "AUDITPIPE_TEST_UNSET is not set" in capsys.readouterr().err

    def test_secrets_are_masked_when_shown(self) -> None:
        text = "kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl: {username: u, password: '${PW}'}\n"
        cfg = config_mod.loads(text, env={"PW": "hunter2-secret"})
        shown = json.dumps(config_mod.masked(cfg))
        assert "hunter2-secret" not in shown and '"password": "***"' in shown
        assert config_mod.secrets(cfg) == ["hunter2-secret"]


def test_log_lines_are_logfmt_or_json() -> None:
    record = logging.LogRecord("auditpipe", logging.INFO, __file__, 1, "Starting.", None, None)
    record.config = {"a": "b c"}  # type: ignore[attr-defined]
    record.path = 'with "quotes" and spaces'  # type: ignore[attr-defined]
    line = LogfmtFormatter().format(record)
    assert " msg=Starting. " in line
    assert 'config="{\\"a\\":\\"b c\\"}"' in line
    assert 'path="with \\"quotes\\" and spaces"' in line
    data = json.loads(JsonFormatter().format(record))
    assert data["msg"] == "Starting." and data["config"] == {"a": "b c"} and data["level"] == "info"


def test_shipped_schema_is_current() -> None:
    assert (ROOT / "configs" / "auditpipe.schema.json").read_text() == config_mod.schema_json(), (
        "configs/auditpipe.schema.json is stale: run `auditpipe config schema > configs/auditpipe.schema.json`"
    )


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate_against_the_schema(path: Path) -> None:
    import jsonschema
    import yaml

    jsonschema.validate(yaml.safe_load(path.read_text()), config_mod.json_schema())


def test_the_schema_catches_what_the_loader_catches() -> None:
    import jsonschema

    bad = {"outputs": [{"type": "kafka", "name": "a", "topic": "t", "selecter": {}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, config_mod.json_schema())
    with pytest.raises(ConfigError):
        config_mod.loads(json.dumps(bad))


def test_config_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    assert json.loads(capsys.readouterr().out)["$ref"] == "#/$defs/Config"
