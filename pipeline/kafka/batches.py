"""Send records with aiokafka's batch API: one future per partition batch.

``producer.send()`` costs a future, a metadata check and an accumulator call
per record, which on this hot path cost more than our whole transform. Here
records are grouped by (topic, partition) in the caller's order, packed into
``BatchBuilder``s and handed over with ``send_batch``. Keys are partitioned
exactly as ``send()`` would (aiokafka's default murmur2 partitioner, the same
as the Java client's; computed in C by ``_fastmatch._partition`` when it is
built), so per-key order and placement do not change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from _fastmatch import partition_index

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class Send:
    topic: str
    key: bytes | None
    value: bytes
    headers: Headers | None = None
    origin: str = ""  # the input record it came from (topic/partition/offset), for a dead letter


@dataclass(slots=True)
class Pending:
    """One partition batch on its way: its future and the records it holds."""

    future: asyncio.Future[Any]
    topic: str
    partition: int
    sends: list[Send] = field(default_factory=list)
    generation: int = 0  # which producer instance took it (see KafkaProducerHandle.renew)


_partitioner = DefaultPartitioner()


async def send_batches(producer: AIOKafkaProducer, sends: Sequence[Send]) -> list[Pending]:
    """Queue ``sends`` for delivery; await each ``Pending.future`` for the acks.

    Waits only when the producer's buffer is full (backpressure).
    """
    partitions: dict[str, list[int]] = {}
    groups: dict[tuple[str, int], list[Send]] = {}
    for index, s in enumerate(sends):
        parts = partitions.get(s.topic)
        if parts is None:
            parts = partitions[s.topic] = sorted(await producer.partitions_for(s.topic))
        if s.key is None:
            # Unkeyed records (e.g. dead letters of unkeyed input): spread round-robin.
            p = parts[index % len(parts)]
        elif partition_index is not None:  # the same answer, in C (tests/test_partition.py)
            p = parts[partition_index(s.key, len(parts))]
        else:
            p = _partitioner(s.key, parts, parts)
        bucket = groups.get((s.topic, p))
        if bucket is None:
            groups[(s.topic, p)] = bucket = []
        bucket.append(s)
    pending: list[Pending] = []
    for (topic, p), bucket in groups.items():
        builder = producer.create_batch()
        held: list[Send] = []
        for s in bucket:
            if builder.append(key=s.key, value=s.value, timestamp=None, headers=s.headers or []) is None:
                pending.append(Pending(await producer.send_batch(builder, topic, partition=p), topic, p, held))
                builder, held = producer.create_batch(), []
                builder.append(key=s.key, value=s.value, timestamp=None, headers=s.headers or [])
            held.append(s)
        if held:
            pending.append(Pending(await producer.send_batch(builder, topic, partition=p), topic, p, held))
    return pending
