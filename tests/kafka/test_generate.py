"""``auditpipe generate`` against the real broker: exactly N records, keyed by auditID, nothing lost on Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from devtools.kafka.endpoints import Endpoints
from pipeline.cli import main
from pipeline.decode import decode_record
from pipeline.errors import Rejection
from pipeline.events import Event
from pipeline.generate import make_events

from ..conftest import ROOT
from .util import create_topics, read_all, unique

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


def delivered_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("shape", ["raw", "fluent-bit"])
def test_n_events_arrive_once_each_keyed_by_audit_id(
    shape: str, kafka_broker: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = unique("generate")
    asyncio.run(create_topics(bootstrap, [topic], partitions=3))
    n = 3_000
    assert (
        main(
            [
                "generate",
                "--count",
                str(n),
                "--seed",
                "21",
                "--shape",
                shape,
                "--kafka-bootstrap",
                bootstrap,
                "--topic",
                topic,
            ]
        )
        == 0
    )
    assert (
        delivered_line(capsys.readouterr().err)
        == f"auditpipe generate: delivered {n:,} events in {n:,} of {n:,} records to topic {topic}"
    )

    records = asyncio.run(read_all(bootstrap, topic, expect=n))
    assert len(records) == n
    lines = [r.value if shape == "raw" else json.loads(r.value)["log"].encode() for r in records]
    want = make_events(n, seed=21)
    assert Counter(lines) == Counter(want)  # every event exactly once
    for record, line in zip(records, lines):
        assert record.key == json.loads(line)["auditID"].encode()
    # Within a partition the records keep the generated order, and the stages of one request
    # (same auditID, same key) share a partition.
    position = {line: i for i, line in enumerate(want)}
    by_partition: dict[int, list[int]] = defaultdict(list)
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for record, line in zip(records, lines):
        by_partition[record.partition].append(position[line])
        partition_of[record.key].add(record.partition)
    assert len(by_partition) == 3
    assert all(order == sorted(order) for order in by_partition.values())
    assert all(len(parts) == 1 for parts in partition_of.values())


def test_eventlists_fit_the_message_limit_and_hold_every_event(
    kafka_broker: Endpoints, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = unique("generate-lists")
    asyncio.run(create_topics(bootstrap, [topic]))
    n, limit = 3_000, 600_000
    assert (
        main(
            [
                "generate",
                "--count",
                str(n),
                "--seed",
                "22",
                "--shape",
                "eventlist",
                "--batch",
                "400",
                "--max-message-bytes",
                str(limit),
                "--kafka-bootstrap",
                bootstrap,
                "--topic",
                topic,
            ]
        )
        == 0
    )
    line = delivered_line(capsys.readouterr().err)
    records = asyncio.run(read_all(bootstrap, topic, idle_secs=3.0))
    assert line == (
        f"auditpipe generate: delivered {n:,} events in {len(records):,} of {len(records):,} records to topic {topic}"
    )
    assert all(r.key is None and len(r.value) <= limit for r in records)
    assert len(records) > n / 400  # lists were cut by size, not only by count
    events: list[Event] = []
    errors: list[Rejection] = []
    for r in records:
        decode_record(r.value, f"{topic}@{r.offset}", events, errors)
    assert not errors
    assert [e.audit_id for e in events] == [json.loads(x)["auditID"] for x in make_events(n, seed=22)]


async def wait_for_records(bootstrap: str, topic: str, least: int, proc: subprocess.Popen[bytes]) -> None:
    """Return once ``topic`` holds ``least`` records (the producer is still running, so never idle)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        seen = 0
        deadline = time.monotonic() + 120
        while seen < least:
            assert proc.poll() is None, "generate ended before it was interrupted"
            assert time.monotonic() < deadline, f"only {seen} records within 120 s"
            batch = await consumer.getmany(timeout_ms=500)
            seen += sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()


def test_ctrl_c_reports_exactly_what_the_broker_has(kafka_broker: Endpoints) -> None:
    bootstrap = kafka_broker.bootstrap
    topic = unique("generate-stop")
    asyncio.run(create_topics(bootstrap, [topic]))
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "generate",
            "--count",
            "0",
            "--rate",
            "1500",
            "--seed",
            "23",
            "--kafka-bootstrap",
            bootstrap,
            "--topic",
            topic,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        asyncio.run(wait_for_records(bootstrap, topic, 500, proc))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    line = delivered_line(err)
    assert line.startswith("auditpipe generate: interrupted: delivered "), line
    delivered = int(line.split("delivered ", 1)[1].split(" events", 1)[0].replace(",", ""))
    assert f"in {delivered:,} of {delivered:,} records" in line  # everything sent was acknowledged
    records = asyncio.run(read_all(bootstrap, topic, expect=delivered))
    assert [r.value for r in records] == make_events(delivered, seed=23)
