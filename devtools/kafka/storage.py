"""Formatting the broker's data directory (``kafka.tools.StorageTool format``), once."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Callable

from .errors import KafkaDevError
from .jvm import Jvm
from .paths import BrokerPaths
from .settings import SASL_PASSWORD, SASL_USER, SCRAM_MECHANISMS

# Written next to the data when it is formatted; data without it (or with another layout)
# came from an older helper whose format this one cannot start (that one formatted a
# dynamic quorum with --standalone; this one uses static voters).
FORMAT_LAYOUT = {"layout": 2, "quorum": "static", "scram_users": [SASL_USER]}


class StorageError(KafkaDevError):
    """The data directory cannot be used or formatted."""


def ensure_formatted(jvm: Jvm, paths: BrokerPaths, log: Callable[[str], None]) -> None:
    """Format ``paths.data`` on first use only, so a restart keeps topics and offsets.

    The SCRAM credentials of the test user (SCRAM-SHA-256 and -512) are written into the
    cluster metadata at the same time (``--add-scram``); PLAIN users come from the JAAS
    settings instead.

    Parameters
    ----------
    jvm
        Runs the storage tool.
    paths
        The broker's files (``server.properties`` must be written already).
    log
        Receives a progress line.
    """
    if (paths.data / "meta.properties").exists():
        try:
            layout = json.loads(paths.formatted.read_text())
        except (OSError, ValueError):
            layout = None
        if layout != FORMAT_LAYOUT:
            raise StorageError(
                f"{paths.data} was formatted by an older kafka-dev; run "
                "`scripts/kafka-dev reset` (or Broker.reset()) to start afresh"
            )
        return
    if paths.data.is_dir() and any(paths.data.iterdir()):
        raise StorageError(f"{paths.data} is not empty but has no meta.properties; run `scripts/kafka-dev reset`")
    paths.data.mkdir(parents=True, exist_ok=True)
    log(f"formatting {paths.data} (a new single-node KRaft cluster)")
    args = ["format", "-t", new_cluster_id(), "-c", str(paths.properties)]
    for mechanism in SCRAM_MECHANISMS:
        args += ["--add-scram", f"{mechanism}=[name={SASL_USER},password={SASL_PASSWORD}]"]
    result = jvm.run_tool("kafka.tools.StorageTool", args)
    with open(paths.log, "a") as fh:
        fh.write(result.stdout)
    if result.returncode != 0:
        shutil.rmtree(paths.data, ignore_errors=True)  # it was empty before: the next try starts clean
        raise StorageError(f"kafka.tools.StorageTool format failed (exit {result.returncode}):\n{result.stdout}")
    paths.formatted.write_text(json.dumps(FORMAT_LAYOUT) + "\n")


def new_cluster_id() -> str:
    """A cluster id shaped like Kafka's ``Uuid.toString()``: base64url of 16 random bytes,
    no padding, never starting with '-' (it would read as a command-line option)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
