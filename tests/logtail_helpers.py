"""What the log-source and rotating-sink tests share: corpora, auditpipe as a
real subprocess, kube-apiserver's log backend (apiserver-replay), and reading
back every file of a rotated log as decoded events."""

from __future__ import annotations

import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conftest import ROOT

WAIT_SECS = 120  # a deadline for things to happen on a loaded machine, not a speed check
KEEP_ALL = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n"


def generate(path: Path, count: int, seed: int) -> Path:
    """A corpus of ``count`` events with distinct (auditID, stage), from auditpipe's generator."""
    subprocess.run(
        [sys.executable, "-m", "pipeline", "generate", "--count", str(count), "--seed", str(seed), "-o", str(path)],
        cwd=ROOT,
        check=True,
    )
    return path


def canonical(line: bytes) -> str:
    """An event's content, independent of key order and escaping."""
    return json.dumps(json.loads(line), sort_keys=True, separators=(",", ":"))


def without_enrichment(line: bytes, prefix: str = "auditpipe.io/") -> str:
    event = json.loads(line)
    notes = {k: v for k, v in event.get("annotations", {}).items() if not k.startswith(prefix)}
    if notes:
        event["annotations"] = notes
    else:
        event.pop("annotations", None)
    return json.dumps(event, sort_keys=True, separators=(",", ":"))


def log_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file())


def read_rotated(directory: Path) -> collections.Counter[str]:
    """Every event in every file of a directory of rotated logs (gunzipped), by content."""
    events: collections.Counter[str] = collections.Counter()
    for path in log_files(directory):
        data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
        events.update(canonical(line) for line in data.splitlines() if line.strip())
    return events


def read_output(path: Path) -> tuple[collections.Counter[str], list[bytes]]:
    """The events of an output file by content, and its lines that are not JSON (a line cut by kill -9)."""
    events: collections.Counter[str] = collections.Counter()
    broken = []
    if not path.exists():
        return events, broken
    for line in path.read_bytes().splitlines():
        try:
            events[canonical(line)] += 1
        except ValueError:
            broken.append(line)
    return events, broken


def count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except FileNotFoundError:
        return 0


def wait_for(condition: Callable[[], bool], what: str, *procs: Auditpipe) -> None:
    deadline = time.monotonic() + WAIT_SECS
    while not condition():
        for p in procs:
            if p.proc is not None and p.proc.poll() is not None:
                raise AssertionError(f"auditpipe exited ({p.proc.returncode}) while waiting for {what}:\n{p.stderr()}")
        if time.monotonic() > deadline:
            logs = "\n".join(p.stderr()[-4000:] for p in procs)
            raise AssertionError(f"gave up waiting for {what} after {WAIT_SECS} s\n{logs}")
        time.sleep(0.05)


def write_config(path: Path, text: str, policy: str = KEEP_ALL) -> Path:
    (path.parent / "policy.yaml").write_text(policy)
    path.write_text(
        "policy: policy.yaml\nmetrics: {enabled: false}\nenrichment: {enabled: false}\n"
        "limits: {max_batch_records: 50}\ndelivery: {max_inflight_batches: 4}\n" + text
    )
    return path


class Auditpipe:
    """``python -m pipeline run --config ...`` as a subprocess; its log goes to a file."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.log = config.with_suffix(".stderr")
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> Auditpipe:
        self.runs += 1
        with open(self.log, "ab") as log:
            log.write(f"---- run {self.runs} ----\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "run", "--config", str(self.config)],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        return self

    def watching(self) -> Auditpipe:
        """Wait until this run's log source has looked at its paths (so nothing written
        from now on is older than its first look)."""
        marker = f"---- run {self.runs} ----"

        def ready() -> bool:
            current = self.stderr().rpartition(marker)[2]
            return "No file matches" in current or "Following a file" in current

        wait_for(ready, "the log source to start watching", self)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM, as Kubernetes stops a pod; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT_SECS)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def replay(binary: Path, log: Path, corpus: Path, *flags: str) -> dict[str, Any]:
    """kube-apiserver's log backend writes ``corpus`` to ``log``; its summary line."""
    proc = subprocess.run(
        [str(binary), "log", "--path", str(log), "--events", str(corpus), "--max-backups", "0", *flags],
        capture_output=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def start_replay(binary: Path, log: Path, corpus: Path, *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(binary), "log", "--path", str(log), "--events", str(corpus), "--max-backups", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def finish_replay(proc: subprocess.Popen[bytes]) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert json.loads(out)["dropped"] == 0
