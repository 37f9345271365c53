"""One idempotent ``acks=all`` producer shared by every Kafka output and the
Kafka dead-letter output, with the size limits of their topics.

``deliver`` sends records and returns once the broker acknowledged all of
them, resending what failed for a retriable reason for as long as it takes:
a broker outage of any length is ridden out. When the idempotent producer's
sequence breaks (a batch expired during an outage, then
``OutOfOrderSequenceNumber``), the producer is replaced by a new one, which
has a new producer id, and the failed records are sent again (a duplicate at
most, never a loss). Any other failure raises ``DeliveryError`` and nothing
after it is acknowledged upstream.

Output topics must exist at start: a missing one is named and the start
fails, as auto-creation would give it the broker's defaults, not the ones
the operator meant.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    UnknownProducerId,
)

from ..config import Kafka
from ..errors import DeliveryError, StartupError
from ..observers import RetryObserver
from .batches import Pending, Send, send_batches
from .client import client_options, start_with_deadline

log = logging.getLogger("auditpipe")

DEFAULT_MESSAGE_MAX_BYTES = 1_048_588  # the broker's default message.max.bytes
RECORD_OVERHEAD_BYTES = 1024  # batch and record headers, key, our headers: kept free under the limit
MAX_RETRY_PAUSE_SECS = 5.0
STOP_OLD_PRODUCER_SECS = 10.0
# The producer's sequence for a partition is broken: only a new producer id helps.
_SEQUENCE_BROKEN = (
    OutOfOrderSequenceNumber,
    DuplicateSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    UnknownProducerId,
    KafkaTimeoutError,  # a batch expired in the producer: later sequences on its partition would be refused
)


class KafkaProducerHandle:
    """The shared producer. Start it once, before any Kafka output sends.

    ``outputs`` names the output each topic belongs to, for the retry counts
    reported to ``observer``.
    """

    def __init__(
        self,
        k: Kafka,
        topics: Iterable[str],
        outputs: dict[str, str] | None = None,
        observer: RetryObserver | None = None,
    ) -> None:
        self.k = k
        self._outputs = outputs or {}
        self._observer = observer
        self.topics = sorted(set(topics))
        self.producer: AIOKafkaProducer | None = None
        # Largest record each topic accepts (max.message.bytes), read from the cluster at start.
        self.max_bytes: dict[str, int] = {}
        self._started = False
        self.generation = 0
        self._renewing = asyncio.Lock()
        self._stopping_old: set[asyncio.Future[None]] = set()
        self._batch_bytes = k.producer_max_batch_bytes

    def limit(self, topic: str) -> int:
        """Bytes a record (value and key) may take on ``topic``."""
        return self.max_bytes.get(topic, DEFAULT_MESSAGE_MAX_BYTES) - RECORD_OVERHEAD_BYTES

    async def start(self) -> None:
        if self._started:
            return
        k = self.k
        opts = client_options(k)

        async def start() -> None:
            self.max_bytes = await self._read_size_limits(opts)
            # A batch never grows past the smallest limit, so the broker never
            # refuses one for its size; single records over it are dead-lettered first.
            self._batch_bytes = min([k.producer_max_batch_bytes, *self.max_bytes.values()]) - RECORD_OVERHEAD_BYTES
            self.producer = await self._new_producer()

        await start_with_deadline(k, "producer", start, self.stop)
        self._started = True

    async def _new_producer(self) -> AIOKafkaProducer:
        k = self.k
        producer = AIOKafkaProducer(
            **client_options(k),
            acks="all",
            enable_idempotence=True,
            compression_type=None if k.compression == "none" else k.compression,
            linger_ms=k.producer_linger_ms,
            max_batch_size=max(self._batch_bytes, 16384),
            max_request_size=k.producer_max_request_bytes,
        )
        try:
            await producer.start()
        except BaseException:
            await _stop_quietly(producer)  # its connections and tasks, half started
            raise
        return producer

    async def renew(self, generation: int) -> None:
        """Replace the producer that queued generation ``generation`` (once,
        however many deliveries saw it break). Its unfinished batches fail
        and are sent again by their ``deliver``."""
        async with self._renewing:
            if generation != self.generation:
                return  # another delivery renewed it already
            old = self.producer
            log.warning(
                "Replacing the Kafka producer: its idempotent sequence broke; unacknowledged records are sent again.",
                extra={"generation": generation},
            )
            while True:
                try:
                    self.producer = await self._new_producer()
                    break
                except KafkaError as exc:  # the broker is still away: keep trying, never give up
                    log.warning("Cannot start a new Kafka producer yet.", extra={"error": repr(exc)})
                    await asyncio.sleep(MAX_RETRY_PAUSE_SECS)
            self.generation += 1
            if old is not None:
                stopping = asyncio.ensure_future(_stop_quietly(old))
                self._stopping_old.add(stopping)
                stopping.add_done_callback(self._stopping_old.discard)

    async def _read_size_limits(self, opts: dict[str, Any]) -> dict[str, int]:
        """max.message.bytes of every topic we write to, once all of them exist.

        Where the cluster will not say (no DescribeConfigs permission), the
        broker default is assumed.
        """
        admin = AIOKafkaAdminClient(**opts)
        await admin.start()
        try:
            missing = sorted(set(self.topics) - set(await admin.list_topics()))
            if missing:
                raise StartupError(
                    f"output topic(s) {', '.join(missing)} do not exist at {self.k.bootstrap_servers}; "
                    "create them with the partitions and retention you want (auditpipe never creates topics)",
                    retriable=False,
                )
            cluster = await admin.describe_cluster()
            broker_ids = [str(b["node_id"]) for b in cluster.get("brokers", [])]
            resources = [ConfigResource(ConfigResourceType.TOPIC, t, {"max.message.bytes": None}) for t in self.topics]
            if broker_ids:
                resources.append(ConfigResource(ConfigResourceType.BROKER, broker_ids[0], {"message.max.bytes": None}))
            try:
                responses = await admin.describe_configs(resources)
            except KafkaError as exc:
                log.warning(
                    "Cannot read topic size limits; assuming the broker default.",
                    extra={"error": repr(exc), "max_bytes": DEFAULT_MESSAGE_MAX_BYTES},
                )
                return {t: DEFAULT_MESSAGE_MAX_BYTES for t in self.topics}
        finally:
            await admin.close()
        per_topic: dict[str, int] = {}
        broker_limit = DEFAULT_MESSAGE_MAX_BYTES
        for response in responses:
            for resource in response.to_object()["resources"]:
                for entry in resource["config_entries"]:
                    if resource["error_code"] == 0 and entry["config_value"]:
                        if resource["resource_type"] == ConfigResourceType.BROKER:
                            broker_limit = int(entry["config_value"])
                        else:
                            per_topic[resource["resource_name"]] = int(entry["config_value"])
        limits = {t: per_topic.get(t, broker_limit) for t in self.topics}
        log.info("Output size limits.", extra={"max_message_bytes": limits})
        return limits

    async def stop(self) -> None:
        producer, self.producer = self.producer, None
        self._started = False
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:  # shutting down: report, do not mask the real outcome
                log.warning("Error while stopping the Kafka producer.", extra={"error": repr(exc)})

    async def queue(self, sends: Sequence[Send]) -> list[Pending]:
        """Hand ``sends`` to the producer; await ``deliver`` on the result.

        Waits while the producer's buffer is full, and retries while the
        topics' metadata cannot be had (the brokers are away).
        """
        pause = 0.5
        attempt = 0
        while True:
            assert self.producer is not None, "start() first"
            generation = self.generation
            try:
                pending = await send_batches(self.producer, sends)
            except KafkaError as exc:
                # Batches queued before the failure still go out: duplicates at most.
                attempt += 1
                if _worth_logging(attempt):
                    log.warning(
                        "Cannot queue records for Kafka yet.",
                        extra={"error": repr(exc), "attempt": attempt, "retry_in_secs": pause},
                    )
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_PAUSE_SECS)
                continue
            for p in pending:
                p.generation = generation
            return pending

    async def deliver(self, pending: list[Pending]) -> None:
        """Wait until every queued record is acknowledged, resending retriable failures."""
        attempts = 0
        while True:
            results = await asyncio.gather(*(p.future for p in pending), return_exceptions=True)
            failures = [(p, r) for p, r in zip(pending, results) if isinstance(r, BaseException)]
            if not failures:
                return
            retry: list[Send] = []
            broken: set[int] = set()
            for p, exc in failures:
                if isinstance(exc, _SEQUENCE_BROKEN) or p.generation != self.generation:
                    broken.add(p.generation)  # an old producer's batches fail as it is replaced
                    retry.extend(p.sends)
                elif getattr(exc, "retriable", False) or isinstance(exc, (KafkaConnectionError, asyncio.TimeoutError)):
                    retry.extend(p.sends)  # the acknowledged batches are not sent again
                elif isinstance(exc, MessageSizeTooLargeError):
                    raise DeliveryError(
                        f"{p.topic}[{p.partition}] refused a batch as too large: its "
                        "max.message.bytes must have shrunk since start; a restart reads it again"
                    )
                else:
                    raise DeliveryError(f"delivery to {p.topic}[{p.partition}] failed: {exc!r}")
            attempts += 1
            if self._observer is not None:
                for p, _ in failures:
                    self._observer.delivery_retried(self._outputs.get(p.topic, p.topic), len(p.sends))
            if _worth_logging(attempts):
                log.warning(
                    "Delivery failed, sending again.",
                    extra={"error": repr(failures[0][1]), "records": len(retry), "attempt": attempts},
                )
            await asyncio.sleep(min(0.5 * attempts, MAX_RETRY_PAUSE_SECS))
            for generation in broken:
                await self.renew(generation)
            pending = await self.queue(retry)


def _worth_logging(attempt: int) -> bool:
    """Attempts 1, 2, 4, 8, ... and every 64th: an outage of any length logs a few lines."""
    return attempt & (attempt - 1) == 0 or attempt % 64 == 0


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    """Stop a replaced producer without waiting on a broker that may be away."""
    try:
        await asyncio.wait_for(producer.stop(), STOP_OLD_PRODUCER_SECS)
    except BaseException as exc:  # its batches are being sent again by the new producer
        log.info("The replaced Kafka producer did not stop cleanly.", extra={"error": repr(exc)})
