"""Hostile input to the offline commands: every bad input is a clear error,
nothing readable is lost, memory stays bounded, no traceback."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from pipeline.cli import main

from .conftest import ROOT
from .helpers import event, line

SAMPLE = ROOT / "pipeline" / "data" / "sample-events.jsonl"
ALL = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n"


@pytest.fixture
def all_policy(tmp_path: Path) -> Path:
    p = tmp_path / "all.yaml"
    p.write_text(ALL)
    return p


def auditpipe(
    *args: str, stdin: Any = None, input_bytes: bytes | None = None, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=ROOT,
        stdin=stdin,
        input=input_bytes,
        capture_output=kwargs.pop("capture_output", True),
        timeout=timeout,
        **kwargs,
    )


def no_traceback(stderr: bytes) -> None:
    assert b"Traceback" not in stderr, stderr.decode(errors="replace")[-3000:]


def sample_lines(n: int) -> list[bytes]:
    return SAMPLE.read_bytes().splitlines()[:n]


# ---- row 1, 21: --rejects -------------------------------------------------------------------


def test_rejects_that_is_an_input_is_refused(
    tmp_path: Path, all_policy: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(SAMPLE.read_bytes())
    assert main(["filter", "--policy", str(all_policy), "--rejects", str(data), str(data)]) == 2
    assert "is also an input" in capfd.readouterr().err
    assert data.read_bytes() == SAMPLE.read_bytes()


def test_rejects_that_is_stdin_is_refused(tmp_path: Path, all_policy: Path) -> None:
    data = tmp_path / "audit.log"
    data.write_bytes(SAMPLE.read_bytes())
    with open(data, "rb") as stdin:
        proc = auditpipe("filter", "--policy", str(all_policy), "--rejects", str(data), stdin=stdin)
    assert proc.returncode == 2 and b"is also an input" in proc.stderr
    assert data.read_bytes() == SAMPLE.read_bytes()


def test_rejects_file_is_created_only_by_a_reject(tmp_path: Path, all_policy: Path) -> None:
    rejects = tmp_path / "rejects.jsonl"
    proc = auditpipe("filter", "--policy", str(all_policy), "--rejects", str(rejects), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert not rejects.exists()


def test_rejects_dash_is_refused(all_policy: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["filter", "--policy", str(all_policy), "--rejects", "-", str(SAMPLE)]) == 2
    assert "standard output carries the kept events" in capfd.readouterr().err


def test_rejects_keep_crlf_records_byte_for_byte(tmp_path: Path, all_policy: Path) -> None:
    bad = [b"{oops\r", b'{"auditID": 1}\r']
    data = tmp_path / "crlf.jsonl"
    data.write_bytes(line(event()) + b"\r\n" + bad[0] + b"\n" + bad[1] + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    proc = auditpipe("filter", "--policy", str(all_policy), "--rejects", str(rejects), str(data))
    assert proc.returncode == 1
    assert rejects.read_bytes() == b"".join(b + b"\n" for b in bad)
    assert len(proc.stdout.splitlines()) == 1


# ---- rows 2-5: unreadable inputs and outputs --------------------------------------------------


def test_directory_input_is_reported_and_the_rest_is_written(tmp_path: Path, all_policy: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_bytes(b"\n".join(sample_lines(500)) + b"\n")
    (tmp_path / "d").mkdir()
    proc = auditpipe("filter", "--policy", str(all_policy), "--stats", str(a), str(tmp_path / "d"))
    no_traceback(proc.stderr)
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == 500
    assert f"auditpipe: {tmp_path / 'd'}: cannot read: Is a directory".encode() in proc.stderr
    assert b"events out:  500" in proc.stderr and b"unreadable inputs: 1" in proc.stderr


def test_truncated_gzip_yields_every_complete_event(tmp_path: Path, all_policy: Path) -> None:
    whole = SAMPLE.read_bytes()
    cut = tmp_path / "t.gz"
    cut.write_bytes(gzip.compress(whole)[:300_000])
    # The reference: every line a streaming decompressor can recover before the cut.
    decompressor = zlib.decompressobj(31)
    complete = (decompressor.decompress(cut.read_bytes()) + decompressor.flush()).count(b"\n")
    assert 0 < complete < whole.count(b"\n")
    proc = auditpipe("filter", "--policy", str(all_policy), str(cut))
    no_traceback(proc.stderr)
    assert proc.returncode == 1
    assert len(proc.stdout.splitlines()) == complete
    assert f"auditpipe: {cut}: truncated gzip input".encode() in proc.stderr


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda g: g[:34] + bytes([g[34] ^ 0xFF]) + g[35:], b"corrupt gzip data"),
        (lambda g: g + b"trailing garbage", b"trailing garbage after the gzip data"),
    ],
)
def test_broken_gzip_is_a_message_with_the_path(tmp_path: Path, all_policy: Path, damage: Any, message: bytes) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(damage(gzip.compress(b"\n".join(sample_lines(200)) + b"\n")))
    proc = auditpipe("filter", "--policy", str(all_policy), str(bad))
    no_traceback(proc.stderr)
    assert proc.returncode == 1
    assert f"auditpipe: {bad}: ".encode() + message in proc.stderr


def test_gzip_is_detected_on_stdin(tmp_path: Path, all_policy: Path) -> None:
    proc = auditpipe(
        "filter",
        "--policy",
        str(all_policy),
        "--stats",
        input_bytes=gzip.compress(b"\n".join(sample_lines(300)) + b"\n"),
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.splitlines()) == 300 and b"rejected:    0" in proc.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_names_the_output(all_policy: Path) -> None:
    with open("/dev/full", "wb") as full:
        proc = auditpipe(
            "filter",
            "--policy",
            str(all_policy),
            str(SAMPLE),
            stdout=full,
            capture_output=False,
            stderr=subprocess.PIPE,
        )
    no_traceback(proc.stderr)
    assert proc.returncode == 2
    assert b"auditpipe: <stdout>: cannot write: No space left on device" in proc.stderr


@pytest.mark.parametrize("command", ["filter", "explain"])
def test_broken_pipe_ends_quietly(all_policy: Path, command: str) -> None:
    args = (
        ["filter", "--policy", str(all_policy), str(SAMPLE)]
        if command == "filter"
        else ["policy", "explain", str(all_policy), str(SAMPLE)]
    )
    with subprocess.Popen(
        [sys.executable, "-m", "pipeline", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # like `| head -1`
        stderr = proc.stderr.read()
        assert proc.wait(timeout=120) == 141
    assert stderr == b""


# ---- rows 6-7: bounded memory -------------------------------------------------------------------


def test_endless_line_is_rejected_without_being_held(tmp_path: Path, all_policy: Path) -> None:
    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        zeros = b"\0" * (1 << 20)
        for _ in range(400):  # one 400 MB line...
            f.write(zeros)
        f.write(b"\n" + line(event()) + b"\n")  # ...then a good event
    # VmHWM, not getrusage's ru_maxrss: that one starts at the parent's peak when forked
    # (Linux keeps it across fork and exec), so a large pytest process would show up here.
    script = (
        "import sys\nfrom pipeline.cli import main\ncode = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        "print(hwm, file=sys.stderr)\nsys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, "filter", "--policy", str(all_policy), str(bomb)],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
    )
    no_traceback(proc.stderr)
    assert proc.returncode == 1
    assert f"error: {bomb}:1: too_large at $: line is over the limit of 8388608 bytes".encode() in proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    peak_kib = int(proc.stderr.splitlines()[-1])
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB for a 400 MB line"


def test_batches_are_bounded_in_bytes(tmp_path: Path) -> None:
    import asyncio

    from pipeline.config import Limits
    from pipeline.sources.file import FileSource

    big = line(event(requestObject={"data": "x" * (3 << 20)}))
    data = tmp_path / "big.jsonl"
    data.write_bytes(b"".join(big + b"\n" for _ in range(12)))
    source = FileSource([str(data)], Limits(max_batch_bytes=8 << 20), on_problem=print)

    async def sizes() -> list[int]:
        return [sum(len(v) for v in batch.values) async for batch in source.batches()]

    got = asyncio.run(sizes())
    assert sum(got) == 12 * len(big)
    assert max(got) < (8 << 20) + len(big)  # a batch closes once it passes the byte limit


# ---- rows 8-10: hostile policies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {level: Metadata, {x: 1}: 2}\n",
            ":4: failed decoding: a mapping key must be a plain value, not a mapping",
        ),
        (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  x:"
            + " [" * 400
            + " ]" * 400
            + "\n",
            ":5: failed decoding: nested more than 64 levels deep",
        ),
    ],
)
def test_hostile_policy_is_a_decoding_error_with_a_line(
    tmp_path: Path, text: str, fragment: str, capfd: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(text)
    assert main(["policy", "check", str(p)]) == 2
    assert f"error: {p}{fragment}" in capfd.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"policy: {p}\n")
    assert main(["config", "check", str(cfg)]) == 2
    assert fragment in capfd.readouterr().err


ODD_VALUES = """apiVersion: audit.k8s.io/v1
kind: Policy
metadata: {created: 2001-12-14, blob: !!binary aGVsbG8=, tags: !!set {a, b}}
rules:
- level: Metadata
  namespace: [prod]
"""


def test_explain_lenient_accepts_what_check_lenient_accepts(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(ODD_VALUES)
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event()) + b"\n")
    assert main(["policy", "check", "--lenient", str(p)]) == 0
    assert main(["policy", "explain", "--lenient", str(p), str(events)]) == 0
    out = capfd.readouterr().out
    assert "rule 0: 1 as loaded, 1 as intended" in out


def test_alias_bomb_is_refused_as_fast_by_explain_as_by_check(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    p = tmp_path / "bomb.yaml"
    p.write_text(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nmetadata:\n"
        + "".join(f"  {x}\n" for x in levels)
        + "rules:\n- level: Metadata\n  namespace: [prod]\n"
    )
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event()) + b"\n")
    for args in (["policy", "check", "--lenient", str(p)], ["policy", "explain", "--lenient", str(p), str(events)]):
        assert main(args) == 2
        assert "aliases expand the document past 1,000,000 values" in capfd.readouterr().err


# ---- row 11: Ctrl-C -------------------------------------------------------------------------------


def test_ctrl_c_prints_the_summary_so_far_and_exits_130(all_policy: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "pipeline", "filter", "--policy", str(all_policy), "--stats"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"\n".join(sample_lines(50)) + b"\n")
        proc.stdin.flush()
        for _ in range(50):  # the events come out while stdin stays open
            proc.stdout.readline()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    no_traceback(stderr)
    assert proc.returncode == 130
    assert b"auditpipe: interrupted" in stderr and b"events out:  50" in stderr


def test_ctrl_c_in_policy_check_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], all_policy: Path
) -> None:
    from pipeline import policy as policy_mod

    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(policy_mod, "load", interrupted)
    assert main(["policy", "check", str(all_policy)]) == 130
    assert capfd.readouterr().err == "auditpipe: interrupted\n"


# ---- row 12: offline outputs ----------------------------------------------------------------------


def test_offline_output_that_is_an_input_is_refused(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"\n".join(sample_lines(10)) + b"\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "sources: [{type: file, paths: [in.jsonl]}]\ndefault_output: {type: file, name: o, path: in.jsonl}\n"
    )
    assert main(["run", "--config", str(cfg)]) == 2
    assert "is also an input: it would feed on itself" in capfd.readouterr().err
    assert data.stat().st_size > 0


@pytest.mark.parametrize(("mode", "copies"), [("append", 2), ("truncate", 1)])
def test_offline_output_mode_says_what_a_rerun_does(
    tmp_path: Path, mode: str, copies: int, capfd: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "in.jsonl"
    data.write_bytes(b"\n".join(sample_lines(10)) + b"\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "sources: [{type: file, paths: [in.jsonl]}]\n"
        f"default_output: {{type: file, name: o, path: out.jsonl, mode: {mode}}}\n"
    )
    out = tmp_path / "out.jsonl"
    assert main(["run", "--config", str(cfg)]) == 0, capfd.readouterr().err
    once = len(out.read_bytes().splitlines())
    assert main(["run", "--config", str(cfg)]) == 0, capfd.readouterr().err
    assert once > 0 and len(out.read_bytes().splitlines()) == copies * once


# ---- rows 15-17: what comes out -------------------------------------------------------------------


def test_explain_and_filter_agree_on_events_recorded_at_none(
    tmp_path: Path, all_policy: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    events = tmp_path / "e.jsonl"
    events.write_bytes(line(event(level="None", requestObject=None, responseObject=None)) + b"\n")
    assert main(["policy", "explain", str(all_policy), str(events)]) == 0
    assert "-> dropped (recorded at level None: there is nothing to keep)" in capfd.readouterr().out
    assert main(["filter", "--policy", str(all_policy), "--stats", str(events)]) == 0
    out, err = capfd.readouterr()
    assert out == ""
    assert "rule 0 matched, but the event was recorded at level None: 1" in err
    assert "(level None)" not in err


def test_eventlist_items_come_out_self_describing(
    tmp_path: Path, all_policy: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    item = event()
    del item["kind"], item["apiVersion"]
    data = tmp_path / "list.jsonl"
    data.write_bytes(line({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [item, item]}) + b"\n")
    assert main(["filter", "--policy", str(all_policy), str(data)]) == 0
    outs = [json.loads(x) for x in capfd.readouterr().out.splitlines()]
    assert len(outs) == 2
    for out in outs:
        assert list(out)[:2] == ["kind", "apiVersion"]
        assert out["kind"] == "Event" and out["apiVersion"] == "audit.k8s.io/v1"


def test_messagepack_arrays_are_decoded(tmp_path: Path, all_policy: Path) -> None:
    packed = msgspec.msgpack.encode([event(auditID="a"), event(auditID="b")])
    assert 0x90 <= packed[0] <= 0x9F
    proc = auditpipe("filter", "--policy", str(all_policy), input_bytes=packed + b"\n")
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(x)["auditID"] for x in proc.stdout.splitlines()] == ["a", "b"]


# ---- row 19: closed standard streams --------------------------------------------------------------


def test_closed_stdout_is_a_clear_message(all_policy: Path) -> None:
    proc = auditpipe(
        "filter",
        "--policy",
        str(all_policy),
        str(SAMPLE),
        stdout=None,
        capture_output=False,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.close(1),
    )
    no_traceback(proc.stderr)
    assert proc.returncode == 2
    assert b"standard output is closed" in proc.stderr


def test_closed_stderr_does_not_change_a_clean_run(tmp_path: Path, all_policy: Path) -> None:
    out = tmp_path / "out.jsonl"
    with open(out, "wb") as f:
        proc = auditpipe(
            "filter",
            "--policy",
            str(all_policy),
            str(SAMPLE),
            stdout=f,
            capture_output=False,
            preexec_fn=lambda: os.close(2),
        )
    assert proc.returncode == 0
    assert len(out.read_bytes().splitlines()) == len(sample_lines(10_000))


# ---- the small things ---------------------------------------------------------------------------------


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"auditpipe {__version__}"
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "3    Kafka not reachable" in text
    with pytest.raises(SystemExit):
        main(["filter", "--help"])
    assert "input files of JSON lines" in capsys.readouterr().out


def test_stdin_reads_stream_without_waiting_for_the_end(all_policy: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "pipeline", "filter", "--policy", str(all_policy)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(line(event(auditID="first")) + b"\n")
            proc.stdin.flush()
            assert json.loads(proc.stdout.readline())["auditID"] == "first"
        finally:
            proc.stdin.close()
            proc.wait(timeout=60)
    assert proc.returncode == 0


def test_json_policies_are_read_fast_and_still_report_lines(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "p.json"
    p.write_text(
        '{"apiVersion": "audit.k8s.io/v1", "kind": "Policy",\n "rules": [\n  {"level": "Metadata",\n'
        '   "namespace": ["prod"]}]}\n'
    )
    assert main(["policy", "check", str(p)]) == 2
    assert f'error: {p}:4: rules[0].namespace: unknown field "namespace"' in capfd.readouterr().err
    p.write_text(
        '{"apiVersion": "audit.k8s.io/v1", "kind": "Policy",\n "rules": [{"level": "Metadata"}],\n "kind": "Policy"}\n'
    )
    assert main(["policy", "check", str(p)]) == 2
    assert f'error: {p}:3: duplicate key "kind"' in capfd.readouterr().err
    p.write_text('{"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}')
    assert main(["policy", "check", str(p)]) == 0
