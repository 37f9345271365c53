"""Every shipped config loads; unknown keys and wrong types fail naming their path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import config as config_mod
from pipeline.cli import main
from pipeline.errors import ConfigError

from .conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_load_with_their_policy(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", str(path)]) == 0


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("outputs:\n  - name: a\n    selecter: {}\n", "unknown field `selecter` - at `$.outputs[0]`"),
        ("kafka:\n  compression: brotli\n", "at `$.kafka.compression`"),
        ("limits:\n  max_record_bytes: lots\n", "Expected `int`, got `str` - at `$.limits.max_record_bytes`"),
        ("outputs:\n  - {name: a}\n  - {name: a}\n", "output names must be unique, repeated: a"),
        ("outputs:\n  - name: a\n    selector: {levels: [None]}\n", "at `$.outputs[0].selector.levels[0]`"),
        ("kafka: [1, 2]\n", "at `$.kafka`"),
        ("a: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_config_names_the_path(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_mod.loads(text, "c.yaml")
    assert fragment in str(info.value)
    assert str(info.value).startswith("c.yaml: ")


def test_policy_path_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "p.yaml").write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None}]\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("policy: sub/p.yaml\n")
    assert config_mod.load(cfg).policy == str(tmp_path / "sub" / "p.yaml")


def test_service_refuses_invalid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  namespace: [a]\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"policy: {policy}\nkafka: {{bootstrap_servers: '127.0.0.1:1'}}\n")
    assert main(["run", "--config", str(cfg)]) == 2
    assert 'rules[0].namespace: unknown field "namespace" (did you mean "namespaces"?)' in capsys.readouterr().err
    cfg.write_text(f"policy: {policy}\npolicy_lenient: true\ninput_paths: [{tmp_path / 'none.jsonl'}]\n")
    (tmp_path / "none.jsonl").write_text("")
    assert main(["run", "--config", str(cfg)]) == 0
