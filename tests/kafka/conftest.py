"""A real Apache Kafka broker for the integration tests.

KAFKA_BOOTSTRAP_SERVERS selects a running broker. Otherwise the project's own
``scripts/kafka-dev`` starts one from Maven Central jars (Java 17 + Maven). With
neither, the Kafka tests skip with a message saying how to enable them, except
under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..conftest import ROOT

KAFKA_DEV = ROOT / "scripts" / "kafka-dev"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the Kafka tests, but: {reason}")
    pytest.skip(f"no Kafka broker ({reason}); set KAFKA_BOOTSTRAP_SERVERS=host:port, or install Java 17 and "
                "Maven so scripts/kafka-dev can start one")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[dict[str, object]]:
    """``{"bootstrap": "host:port", "owned": bool}``; owned brokers may be restarted by tests."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        # A SASL_PLAINTEXT listener of that broker with user auditpipe / auditpipe-secret, if any.
        yield {"bootstrap": external, "owned": False, "sasl": os.environ.get("KAFKA_SASL_BOOTSTRAP_SERVERS")}
        return
    if not (shutil.which("java") and shutil.which("mvn")):
        _unavailable("java or mvn not found")
    status = subprocess.run([str(KAFKA_DEV), "status"], capture_output=True, text=True)
    started_here = status.returncode != 0
    if started_here:
        proc = subprocess.run([str(KAFKA_DEV), "start"], capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            _unavailable(f"scripts/kafka-dev start failed:\n{proc.stderr[-3000:]}")
        address = proc.stdout.strip().splitlines()[-1]
    else:
        found = [w for w in status.stdout.split() if w.count(":") == 1 and w.rsplit(":", 1)[1].isdigit()]
        address = found[-1] if found else "127.0.0.1:" + os.environ.get("KAFKA_DEV_PORT", "9092")
    home = Path(os.environ.get("KAFKA_DEV_HOME") or ROOT / ".kafka-dev")
    sasl_port = os.environ.get("KAFKA_DEV_SASL_PORT") or str(int(address.rsplit(":", 1)[1]) + 2)
    # Data dirs formatted before the SASL listener existed have no SCRAM users.
    sasl = f"127.0.0.1:{sasl_port}" if (home / "sasl-users").exists() else None
    yield {"bootstrap": address, "owned": True, "sasl": sasl}
    if started_here:
        subprocess.run([str(KAFKA_DEV), "stop"], capture_output=True, timeout=120)
