"""The command-line contract tools and people rely on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from pipeline.cli import main

from .conftest import FIXTURES, ROOT
from .helpers import event, line

POLICIES = ROOT / "configs" / "policies"
BROKEN = FIXTURES / "policies"


def write(tmp_path: Path, name: str, *records: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(b"".join(r + b"\n" for r in records))
    return p


@pytest.mark.parametrize("name", sorted(p.name for p in POLICIES.glob("*.yaml")))
def test_bundled_policies_pass_check(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", str(POLICIES / name)]) == 0
    assert "ok" in capsys.readouterr().out


SEED_ERRORS = {
    "seed-broken-prod-secrets.yaml": [
        ':5: rules[0].namespace: unknown field "namespace" (did you mean "namespaces"?)',
        ':6: rules[0].verb: unknown field "verb" (did you mean "verbs"?)',
        ':9: rules[0].resources[0].resource: unknown field "resource" (did you mean "resources"?)',
    ],
    "seed-broken-prod-namespace.yaml": [
        ':1: apiVesion: unknown field "apiVesion" (did you mean "apiVersion"?)',
        ':5: rules[0].namespace: unknown field "namespace" (did you mean "namespaces"?)',
        ':6: rules[0].verb: unknown field "verb" (did you mean "verbs"?)',
        ':8: rules[0].resources[0].groups: unknown field "groups" (did you mean "group"?)',
        ':10: rules[0].resources[0].resouceNames: unknown field "resouceNames" (did you mean "resourceNames"?)',
        ':1: failed decoding: unknown group version field: the policy has no apiVersion (want "audit.k8s.io/v1")',
    ],
}


@pytest.mark.parametrize("name", sorted(SEED_ERRORS))
def test_seed_typos_are_reported_with_line_and_suggestion(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(BROKEN / name)
    assert main(["policy", "check", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:-1] == [f"error: {path}{e}" for e in SEED_ERRORS[name]]
    assert err[-1] == f"{path}: {len(SEED_ERRORS[name])} error(s)"


def test_lenient_loads_like_kube_apiserver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "check", "--lenient", str(BROKEN / "seed-broken-prod-secrets.yaml")]) == 0
    captured = capsys.readouterr()
    assert "ok (1 rule, lenient)" in captured.out
    assert captured.err.count("warning:") == 3
    # kube-apiserver refuses a policy whose apiVersion key is misspelled, lenient or not.
    assert main(["policy", "check", "--lenient", str(BROKEN / "seed-broken-prod-namespace.yaml")]) == 2
    assert "unknown group version field" in capsys.readouterr().err


def test_explain_shows_how_much_wider_the_rule_became(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(
        tmp_path,
        "e.jsonl",
        line(event(verb="delete", objectRef={"resource": "secrets", "namespace": "prod", "name": "s"})),
        line(event(verb="get", objectRef={"resource": "configmaps", "namespace": "dev", "name": "c"})),
        line(event(verb="list", objectRef={"resource": "pods", "namespace": "kube-system"})),
    )
    assert main(["policy", "explain", "--lenient", str(BROKEN / "seed-broken-prod-secrets.yaml"), str(events)]) == 0
    out = capsys.readouterr().out
    assert "rule 0 (level Metadata): resources: group '' with no resource list (all resources)" in out
    assert "rule 0: 3 as loaded, 1 as intended" in out


def test_explain_names_rule_reasons_and_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = write(
        tmp_path,
        "e.jsonl",
        line(
            event(
                user={"username": "system:kube-proxy"},
                verb="watch",
                objectRef={"resource": "endpoints", "namespace": "default"},
                level="Metadata",
            )
        ),
        line(event()),
    )
    assert main(["policy", "explain", str(POLICIES / "security.yaml"), str(events)]) == 0
    out = capsys.readouterr().out
    assert (
        "rule 2 (level None): users contains 'system:kube-proxy'; verbs contains 'watch'; "
        "resources: group '' pattern 'endpoints' matches 'endpoints'"
    ) in out
    assert "-> dropped (level None)" in out
    assert "rule 0 (level RequestResponse)" in out and "-> kept at RequestResponse" in out


def test_filter_files_gzip_and_errors_with_file_line(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    plain = write(tmp_path, "a.jsonl", line(event(auditID="1")), b"{oops", line(event(auditID="2")))
    gz = tmp_path / "b.jsonl.gz"
    gz.write_bytes(gzip.compress(line(event(auditID="3")) + b"\n"))
    code = main(["filter", "--policy", str(POLICIES / "not-that-noisy.yaml"), "--stats", str(plain), str(gz)])
    out, err = capfd.readouterr()
    assert code == 1
    assert [json.loads(x)["auditID"] for x in out.splitlines()] == ["1", "2", "3"]
    assert f"error: {plain}:2: invalid_json at $:" in err
    assert "rejected:    1" in err and "events out:  3" in err


def test_filter_writes_rejects_unchanged(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bad = [b"{oops", line(event(verb=3)), b'{"auditID":"\xff"}']
    plain = write(tmp_path, "a.jsonl", bad[0], line(event()), bad[1], bad[2])
    rejects = tmp_path / "rejects.jsonl"
    code = main(["filter", "--policy", str(POLICIES / "security.yaml"), "--rejects", str(rejects), str(plain)])
    assert code == 1
    assert rejects.read_bytes().splitlines() == bad
    err = capfd.readouterr().err
    assert f"{plain}:3: wrong_type at $.verb" in err and f"{plain}:4: invalid_utf8" in err


def test_filter_clean_input_exits_zero(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    plain = write(tmp_path, "a.jsonl", line(event()))
    assert main(["filter", "--policy", str(POLICIES / "security.yaml"), str(plain)]) == 0


def test_usage_errors_exit_two(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "--policy", str(BROKEN / "seed-broken-prod-secrets.yaml"), "x"]) == 2
    assert main(["filter", "--policy", str(tmp_path / "missing.yaml"), "x"]) == 2
    bad_cfg = tmp_path / "c.yaml"
    bad_cfg.write_text("enrichment:\n  annotation_prefx: a/\n")
    assert main(["filter", "--policy", str(POLICIES / "security.yaml"), "--config", str(bad_cfg)]) == 2
    assert "unknown field `annotation_prefx` - at `$.enrichment`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["nonsense"])
    assert info.value.code == 2


def test_run_without_config_processes_the_bundled_sample(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 0
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert len(lines) > 100
    first = json.loads(lines[0])
    assert first["annotations"]["auditpipe.io/source"].startswith("<bundled sample>:")
    assert "summary:" in err and "rejected:    0" in err
