"""Helpers for the broker tests: topics, producing, reading back, running the service.

``create_topics`` and ``free_port`` live in devtools (the benchmarks use them too) and
are re-exported here."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devtools.kafka.admin import create_topics
from devtools.net import free_port

from ..conftest import ROOT

__all__ = [
    "audit_ids",
    "create_topics",
    "free_port",
    "produce",
    "read_all",
    "start_service",
    "stop",
    "unique",
    "write_config",
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def produce(
    bootstrap: str, topic: str, values: list[bytes], keys: list[bytes | None] | None = None, partitions: int = 1
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        futures = []
        for i, value in enumerate(values):
            key = keys[i] if keys else None
            futures.append(await producer.send(topic, value, key=key, partition=i % partitions))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_all(
    bootstrap: str, topic: str, expect: int | None = None, idle_secs: float = 3.0, timeout_secs: float = 120.0
) -> list[Any]:
    """Every record of ``topic`` (all partitions), reading until ``expect`` records
    arrived or nothing new came for ``idle_secs``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_secs
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got = [r for rs in batch.values() for r in rs]
            if got:
                records.extend(got)
                last_new = time.monotonic()
            if expect is not None and len(records) >= expect and time.monotonic() - last_new > 1.0:
                break
            if expect is None and time.monotonic() - last_new > idle_secs:
                break
    finally:
        await consumer.stop()
    return records


def write_config(
    tmp: Path,
    bootstrap: str,
    input_topic: str,
    *,
    outputs: str = "",
    default_topic: str,
    dead_letter: str,
    group: str,
    policy: str,
    extra_kafka: str = "",
    extra: str = "",
) -> Path:
    """A service config reading ``input_topic``; the ``kafka:`` section comes last
    so that tests can append connection settings (``extra_kafka``) to it."""
    policy_path = tmp / "policy.yaml"
    policy_path.write_text(policy)
    cfg = tmp / f"config-{uuid.uuid4().hex[:6]}.yaml"
    cfg.write_text(f"""
policy: {policy_path}
enrichment: {{cluster_name: test}}
{outputs}
default_output: {{name: rest, type: kafka, topic: {default_topic}}}
dead_letters: {{type: kafka, topic: {dead_letter}}}
metrics: {{port: {free_port()}, host: 127.0.0.1}}
delivery: {{shutdown_timeout_secs: 20}}
{extra}
sources:
  - type: kafka
    topics: [{input_topic}]
    group_id: {group}
    fetch_max_records: 200
kafka:
  bootstrap_servers: "{bootstrap}"
  startup_deadline_secs: 30
{extra_kafka}
""")
    return cfg


def start_service(config: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run", "--config", str(config), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def audit_ids(records: list[Any]) -> list[str]:
    return [json.loads(r.value)["auditID"] for r in records]
