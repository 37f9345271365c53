"""The checks of a Kafka source that do not wait for records: every
``check_interval_secs``, whatever the fetch loop is doing (even while it is
blocked behind a stuck output), ask the cluster for its metadata and the
assigned partitions' end offsets. From the answers: whether the brokers are
reachable, whether the input topics exist, and the lag gauge, computed from the
group's committed offsets (a series per assigned partition from the first
check, removed when the partition goes)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from ..config import Kafka
from ..config import KafkaSource as KafkaSourceConfig
from ..observers import LagGauge
from .base import READY, Health

log = logging.getLogger("auditpipe")

Offsets = dict[TopicPartition, int]
MISSING_TOPIC_REMINDER_SECS = 300.0


class TopicWatch:
    """Reachability, topics and lag of one Kafka source."""

    def __init__(self, config: KafkaSourceConfig, kafka: Kafka, lag: LagGauge | None) -> None:
        self.config = config
        self.kafka = kafka
        self._lag = lag
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._check_now = asyncio.Event()
        self._committed: Offsets = {}  # what this member committed, or read from the group
        self._missing: list[str] = []
        self._missing_logged = 0.0
        self._unreachable_since: float | None = None
        self._unreachable_error = ""
        self._checked = False

    def start(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._task = asyncio.ensure_future(self._loop())

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        self._consumer = None

    def check_soon(self) -> None:
        self._check_now.set()

    def committed(self, offsets: Offsets) -> None:
        self._committed.update(offsets)

    def forget(self, partitions: Any) -> None:
        for tp in partitions:
            self._committed.pop(tp, None)
            if self._lag is not None:
                self._lag(tp.topic, tp.partition, None)

    def health(self, consumer: AIOKafkaConsumer) -> Health:
        if self._unreachable_since is not None:
            secs = time.monotonic() - self._unreachable_since
            return Health(False, f"cannot reach Kafka for {secs:.0f} s: {self._unreachable_error}")
        if self._missing:
            return Health(False, f"input topic(s) {', '.join(self._missing)} do not exist")
        if not self._checked:
            return Health(False, "starting")
        if not consumer.assignment():
            return Health(False, "no partitions assigned (a rebalance, or more group members than partitions)")
        return READY

    async def _loop(self) -> None:
        interval = self.config.check_interval_secs
        while True:
            try:
                await self._check()
            except Exception as exc:  # a surprise here must not end the checks (nor the service)
                log.warning("Kafka source check failed.", extra={"error": repr(exc)})
            self._check_now.clear()
            try:
                await asyncio.wait_for(self._check_now.wait(), interval)
            except TimeoutError:
                pass

    async def _check(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        timeout = min(self.kafka.request_timeout_ms / 1000, 2 * self.config.check_interval_secs)
        try:
            topics = await asyncio.wait_for(consumer.topics(), timeout)
            await asyncio.wait_for(self._update_lag(consumer), timeout)
        except (KafkaError, OSError, TimeoutError) as exc:
            if self._unreachable_since is None:
                self._unreachable_since = time.monotonic()
            self._unreachable_error = (
                f"{type(exc).__name__}: {exc}" if str(exc) else f"no answer to a metadata request within {timeout:g} s"
            )
            return
        if self._unreachable_since is not None:
            log.info(
                "Kafka is reachable again.", extra={"after_secs": round(time.monotonic() - self._unreachable_since, 1)}
            )
        self._unreachable_since = None
        self._checked = True
        self._report_missing([t for t in self.config.topics if t not in topics])

    def _report_missing(self, missing: list[str]) -> None:
        now = time.monotonic()
        if missing and (missing != self._missing or now - self._missing_logged > MISSING_TOPIC_REMINDER_SECS):
            log.warning(
                "Input topic(s) do not exist; waiting for them (auditpipe never creates input topics).",
                extra={"topics": missing, "bootstrap": self.kafka.bootstrap_servers},
            )
            self._missing_logged = now
        elif self._missing and not missing:
            log.info("Input topics exist now.", extra={"topics": self._missing})
        self._missing = missing

    async def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        gauge = self._lag
        assigned = list(consumer.assignment())
        if gauge is None or not assigned:
            return
        ends: Offsets = await consumer.end_offsets(assigned)
        unknown = [tp for tp in assigned if tp not in self._committed]
        if unknown:
            starts: Offsets = await consumer.beginning_offsets(unknown)
            for tp in unknown:
                committed = await consumer.committed(tp)
                if committed is not None:
                    self._committed[tp] = committed
                elif self.config.auto_offset_reset == "earliest":
                    self._committed[tp] = starts[tp]
                else:
                    self._committed[tp] = ends[tp]
        for tp in assigned:
            gauge(tp.topic, tp.partition, max(ends[tp] - self._committed[tp], 0))
