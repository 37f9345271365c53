"""``auditpipe generate``: counts, seeds, shapes, errors, a closed pipe and Ctrl-C.

The broker side is in tests/kafka/test_generate.py.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.decode import decode_record
from pipeline.errors import Rejection
from pipeline.events import Event
from pipeline.generate import make_events
from pipeline.generate.framing import EVENT_PREFIX

from .conftest import ROOT


def generate(tmp_path: Path, *args: str, name: str = "out.jsonl") -> bytes:
    out = tmp_path / name
    assert main(["generate", "--output", str(out), *args]) == 0
    return out.read_bytes()


def decoded(data: bytes) -> list[Event]:
    events: list[Event] = []
    errors: list[Rejection] = []
    for number, record in enumerate(data.splitlines(), 1):
        decode_record(record, f"out:{number}", events, errors)
    assert not errors, errors[0].describe()
    return events


def spawn(*args: str, stdout: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "generate", *args], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE
    )


# ---- count and seed ----


def test_count_and_seed_give_the_generators_events(tmp_path: Path) -> None:
    data = generate(tmp_path, "--count", "700", "--seed", "3")
    assert data == b"".join(line + b"\n" for line in make_events(700, seed=3))


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    a = generate(tmp_path, "--count", "300", "--seed", "11", name="a")
    b = generate(tmp_path, "--count", "300", "--seed", "11", name="b")
    c = generate(tmp_path, "--count", "300", "--seed", "12", name="c")
    assert a == b
    assert not set(a.splitlines()) & set(c.splitlines())


def test_default_count_is_ten_thousand(tmp_path: Path) -> None:
    assert generate(tmp_path).count(b"\n") == 10_000


def test_stdout_is_the_default_output() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "generate", "--count", "50", "--seed", "4"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"".join(line + b"\n" for line in make_events(50, seed=4))
    assert proc.stderr == b""


def test_stats_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = generate(tmp_path, "--count", "200", "--stats")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("auditpipe generate: 200 events (")
    assert f"({len(data) / 1e6:,.1f} MB)" in err[0] and "events/s" in err[0]


# ---- shapes, read back with the project's own decoder ----


@pytest.mark.parametrize("shape", ["raw", "fluent-bit", "eventlist"])
def test_shapes_decode_back_to_the_generated_events(tmp_path: Path, shape: str) -> None:
    want = make_events(450, seed=6)
    data = generate(tmp_path, "--count", "450", "--seed", "6", "--shape", shape, "--batch", "100")
    events = decoded(data)
    assert [e.audit_id for e in events] == [json.loads(line)["auditID"] for line in want]
    assert [e.stage for e in events] == [json.loads(line)["stage"] for line in want]
    records = data.splitlines()
    if shape == "raw":
        assert records == want
    elif shape == "fluent-bit":
        assert [json.loads(r)["log"].encode() for r in records] == want  # the line, unchanged inside
        assert all(r.isascii() for r in records)
    else:
        assert [len(json.loads(r)["items"]) for r in records] == [100, 100, 100, 100, 50]
        items = b",".join(r[r.index(b'"items":[') + 9 : -2] for r in records)
        assert items == b",".join(b"{" + line[len(EVENT_PREFIX) :] for line in want)


# ---- errors: one line, exit 2 ----


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "ten"], "--count wants a whole number, got 'ten'"),
        (["--count", "-5"], "--count must be at least 0, got '-5'"),
        (["--rate", "fast"], "--rate wants a number, got 'fast'"),
        (["--rate", "inf"], "--rate must be finite, got 'inf'"),
        (["--batch", "0"], "--batch must be at least 1, got '0'"),
        (["--topic", "audit"], "--kafka-bootstrap and --topic go together"),
        (["--kafka-bootstrap", "h:9092", "--topic", "t", "--output", "x"], "--output and --kafka-bootstrap are"),
    ],
)
def test_bad_options_are_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"auditpipe generate: {message}"), err


def test_unwritable_output_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--count", "5", "--output", str(tmp_path / "no" / "such" / "dir.jsonl")]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"auditpipe generate: cannot write {tmp_path / 'no' / 'such' / 'dir.jsonl'}: No such file or directory\n"
    )


def test_unreachable_broker_is_one_line() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline",
            "generate",
            "--count",
            "10",
            "--kafka-bootstrap",
            f"127.0.0.1:{port}",
            "--topic",
            "t",
        ],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"auditpipe generate: Kafka at 127.0.0.1:{port}, topic t: ")
    assert "delivered 0 events in 0 of 0 records" in lines[0]


# ---- a closed pipe, Ctrl-C ----


def test_a_closed_pipe_ends_quietly() -> None:
    with spawn("--count", "0", stdout=subprocess.PIPE) as proc:  # forever: only the closed pipe can end it
        assert proc.stdout is not None and proc.stderr is not None
        head = proc.stdout.read(200_000)
        proc.stdout.close()  # like `| head -c 200000`
        assert proc.wait(timeout=60) == 0
        assert proc.stderr.read() == b""
    assert head.startswith(EVENT_PREFIX)


def wait_for_output(path: Path, proc: subprocess.Popen[bytes], least: int) -> None:
    deadline = time.monotonic() + 60
    while not (path.exists() and path.stat().st_size >= least):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        assert time.monotonic() < deadline, "no output within 60 s"
        time.sleep(0.05)


@pytest.mark.parametrize("rate", ["0", "3000"])
@pytest.mark.parametrize("shape", ["raw", "eventlist"])
def test_ctrl_c_stops_cleanly_with_a_summary(tmp_path: Path, rate: str, shape: str) -> None:
    out = tmp_path / "events.jsonl"
    with spawn(
        "--count",
        "0",
        "--rate",
        rate,
        "--shape",
        shape,
        "--batch",
        "50",
        "--seed",
        "9",
        "--output",
        str(out),
        stdout=subprocess.DEVNULL,
    ) as proc:
        wait_for_output(out, proc, 100_000)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    assert err.count("\n") == 1 and err.startswith("auditpipe generate: interrupted after "), err
    assert "Traceback" not in err
    data = out.read_bytes()
    assert data.endswith(b"\n")
    events = decoded(data)  # every record complete, nothing cut
    want = make_events(len(events), seed=9)
    assert [e.audit_id for e in events] == [json.loads(line)["auditID"] for line in want]
    reported = int(err.split("interrupted after ", 1)[1].split(" events", 1)[0].replace(",", ""))
    assert reported == len(events)
    assert os.path.getsize(out) == len(data)
