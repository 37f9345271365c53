"""scripts/kafka-dev: a thin front end of devtools.kafka."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..conftest import ROOT

KAFKA_DEV = ROOT / "scripts" / "kafka-dev"


def test_without_the_virtualenv_it_says_to_make_it(tmp_path: Path) -> None:
    copy = tmp_path / "scripts" / "kafka-dev"
    copy.parent.mkdir()
    shutil.copy2(KAFKA_DEV, copy)
    result = subprocess.run([str(copy), "start"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "make venv" in result.stderr
    assert result.stdout == ""


def test_help_lists_verbs_and_environment() -> None:
    result = subprocess.run([str(KAFKA_DEV), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for word in (
        "start",
        "stop",
        "status",
        "restart",
        "reset",
        "kill",
        "logs",
        "fetch",
        "deny-write",
        "KAFKA_DEV_HOME",
        "KAFKA_DEV_PORT",
        "KAFKA_DEV_CONTROLLER_PORT",
        "KAFKA_DEV_SASL_PORT",
        "KAFKA_DEV_SSL_PORT",
        "KAFKA_DEV_SASL_SSL_PORT",
        "KAFKA_DEV_MTLS_PORT",
        "KAFKA_DEV_WRONG_HOST_PORT",
        "KAFKA_DEV_VERSION",
        "KAFKA_DEV_CACHE",
        "KAFKA_DEV_OVERRIDES",
        "KAFKA_HEAP_OPTS",
    ):
        assert word in result.stdout, word


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_DEV_HOME": str(tmp_path), "KAFKA_DEV_PORT": "not-a-port"}
    result = subprocess.run([str(KAFKA_DEV), "status"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 1
    assert result.stderr.strip() == "kafka-dev: KAFKA_DEV_PORT must be an integer, got 'not-a-port'"
    unknown = subprocess.run([str(KAFKA_DEV), "frobnicate"], capture_output=True, text=True, timeout=60)
    assert unknown.returncode == 2 and "invalid choice" in unknown.stderr


def test_status_of_a_home_without_a_broker(tmp_path: Path) -> None:
    env = {**os.environ, "KAFKA_DEV_HOME": str(tmp_path), "KAFKA_DEV_PORT": "19092"}
    result = subprocess.run([str(KAFKA_DEV), "status"], capture_output=True, text=True, timeout=60, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "kafka-dev: not running\n")
