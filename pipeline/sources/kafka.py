"""Kafka topics in a consumer group: batches from ``getmany``, positions are
the next offset per partition, acknowledged by committing them.

Auto-commit is off: an offset is committed only when the runner releases it,
that is once its batch and every batch before it are durable. On a rebalance
the source first drains what is in flight, so the partitions' new owner starts
after everything delivered; offsets of partitions no longer assigned are
never committed (their new owner reads those records again: duplicates,
never loss).

The topics are subscribed as a pattern of their exact names, so the consumer
only ever asks for the whole cluster's metadata and never auto-creates an
input topic (a topic created by mistake, with one partition, would be read
and reported as healthy). A ``TopicWatch`` checks, every ``check_interval_secs``
and whatever the fetch loop is doing, that the brokers answer and the topics
exist, and sets the lag gauge from the group's committed offsets.

CRI partial lines (``_p: "P"``, from a Fluent Bit without ``multiline.parser
cri``) are joined per partition before processing; a partition's position
stays at its first held fragment until the line is complete, so a restart
reads the fragments again rather than losing them.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from ..config import Kafka
from ..config import KafkaSource as KafkaSourceConfig
from ..errors import ReasonCode, Rejection
from ..kafka.client import client_options, start_with_deadline
from ..observers import LagGauge
from .base import Drain, Health, SourceBatch
from .kafka_watch import Offsets, TopicWatch
from .partial import PartialJoiner, TooLong

log = logging.getLogger("auditpipe")


def exact_names_pattern(topics: list[str]) -> str:
    return "^(" + "|".join(re.escape(t) for t in topics) + ")$"


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, source: KafkaSource, drain: Drain) -> None:
        self._source = source
        self._drain = drain

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Commit what was delivered before giving the partitions up, so the
        # next owner does not read it again.
        await self._drain()
        self._source.forget(revoked)
        log.info("Partitions revoked.", extra={"partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked)})

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("Partitions assigned.", extra={"partitions": sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)})
        self._source.check_soon()


class KafkaSource:
    """Consume ``config.topics`` in group ``config.group_id``."""

    ordered = True

    def __init__(
        self, config: KafkaSourceConfig, kafka: Kafka, lag: LagGauge | None = None, max_record_bytes: int = 8 << 20
    ) -> None:
        self.name = f"kafka:{','.join(config.topics)}"
        self.config = config
        self.kafka = kafka
        self.consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._watch = TopicWatch(config, kafka, lag)
        self._joiner = PartialJoiner(max_record_bytes)

    async def start(self, drain: Drain) -> None:
        c, k = self.config, self.kafka

        async def start() -> None:
            self.consumer = AIOKafkaConsumer(
                **client_options(k),
                group_id=c.group_id,
                enable_auto_commit=False,
                auto_offset_reset=c.auto_offset_reset,
                max_poll_records=c.fetch_max_records,
                session_timeout_ms=c.session_timeout_ms,
                heartbeat_interval_ms=c.heartbeat_interval_ms,
                max_poll_interval_ms=c.max_poll_interval_ms,
                metadata_max_age_ms=c.metadata_max_age_ms,
            )
            await self.consumer.start()
            self.consumer.subscribe(pattern=exact_names_pattern(list(c.topics)), listener=_Rebalance(self, drain))

        await start_with_deadline(k, "consumer", start, self.close)
        assert self.consumer is not None
        self._watch.start(self.consumer)

    async def batches(self) -> AsyncIterator[SourceBatch]:
        consumer = self.consumer
        assert consumer is not None, "start() first"
        c = self.config
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                fetch = asyncio.ensure_future(
                    consumer.getmany(timeout_ms=c.fetch_timeout_ms, max_records=c.fetch_max_records)
                )
                await asyncio.wait([fetch, stop], return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    return
                data = fetch.result()
                if data:
                    yield self._batch(data)
        finally:
            stop.cancel()

    async def acknowledge(self, positions: list[object]) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        offsets: Offsets = {}
        for position in positions:
            offsets.update(position)  # type: ignore[call-overload]  # later batches win
        assigned = consumer.assignment()
        mine = {tp: off for tp, off in offsets.items() if tp in assigned}
        if not mine:
            return
        try:
            await consumer.commit(mine)
        except KafkaError as exc:
            # The records were delivered; after a rebalance the new owner reads
            # them again (duplicates, never loss).
            log.warning("Commit failed; records may be delivered again.", extra={"error": repr(exc)})
            return
        self._watch.committed(mine)

    async def fail(self, position: object, reason: str) -> None:
        pass  # not committing is all it takes: a restart reads the batch again

    def request_stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        self._watch.stop()
        consumer, self.consumer = self.consumer, None
        if consumer is not None:
            try:
                await consumer.stop()
            except Exception as exc:  # shutting down: report, do not mask the real outcome
                log.warning("Error while stopping the Kafka consumer.", extra={"error": repr(exc)})

    def health(self) -> Health:
        if self.consumer is None:
            return Health(False, "starting")
        return self._watch.health(self.consumer)

    def check_soon(self) -> None:
        self._watch.check_soon()

    def forget(self, partitions: Any) -> None:
        """Partitions given up in a rebalance: their lag series and held fragments go."""
        self._watch.forget(partitions)
        for tp in partitions:
            self._joiner.drop(tp)

    def _batch(self, data: dict[TopicPartition, list[Any]]) -> SourceBatch:
        values: list[bytes] = []
        origins: list[str] = []
        keys: list[bytes | None] = []
        headers: list[list[tuple[str, bytes]]] = []
        errors: list[Rejection] = []
        offsets: Offsets = {}
        joiner = self._joiner
        for tp, records in data.items():
            prefix = f"{tp.topic}/{tp.partition}/"
            for rec in records:
                origin = f"{prefix}{rec.offset}"
                value = rec.value if rec.value is not None else b""
                if joiner.passes(value):
                    values.append(value)
                    origins.append(origin)
                    keys.append(rec.key)
                    headers.append(list(rec.headers or ()))
                    continue
                joined = joiner.feed(tp, value, origin, rec.offset)
                if joined is None:  # a fragment, held until its line is complete
                    continue
                if isinstance(joined, TooLong):
                    message = f"CRI partial lines joined would be over {joined.size} bytes (not kept)"
                    errors.append(Rejection(ReasonCode.TOO_LARGE, message, "$", b"", joined.origin))
                    continue
                values.append(joined.value)
                origins.append(joined.origin)
                keys.append(rec.key)
                headers.append(list(rec.headers or ()))
            held = joiner.held(tp)
            offsets[tp] = records[-1].offset + 1 if held is None else held
        return SourceBatch(values, origins, position=offsets, keys=keys, headers=headers, errors=errors)
