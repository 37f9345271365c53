"""A metrics port that is taken stops the service at once with a message that
names it (exit 2), in one process and under the workers' supervisor: no
traceback, no half-started service."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.net import free_port

from .conftest import ROOT


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_one_process(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "webhook.yaml"
    config.write_text(
        f"sources: [{{type: webhook, host: 127.0.0.1, port: {free_port()}}}]\n"
        f"metrics: {{host: 127.0.0.1, port: {taken_port}}}\n"
    )
    result = run(config)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot serve /metrics, /healthz and /readyz on 127.0.0.1:{taken_port}" in result.stderr


def test_the_supervisor_of_workers(tmp_path: Path, taken_port: int) -> None:
    config = tmp_path / "kafka.yaml"
    config.write_text(
        "sources: [{type: kafka, topics: [audit]}]\n"
        "default_output: {name: out, type: kafka, topic: out}\n"
        "kafka: {bootstrap_servers: '127.0.0.1:1', startup_deadline_secs: 30}\n"
        f"metrics: {{host: 127.0.0.1, port: {taken_port}}}\n"
    )
    result = run(config, "--workers", "2")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"cannot serve /metrics, /healthz and /readyz on 127.0.0.1:{taken_port}" in result.stderr
    assert "Worker started" not in result.stderr  # nothing was started
