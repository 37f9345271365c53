"""Kafka outputs and the Kafka dead-letter output, on one shared producer.

Outputs are keyed by the event's auditID, so all stages of one request land in
one partition, in the order they were read. An event over its topic's
``max.message.bytes`` is refused before sending (an idempotent producer cannot
go on past a batch the broker refused) and comes back as a dead letter.

Dead letters keep the input record's key and headers and add ``auditpipe.*``
headers: reason, message, JSON path and the source position.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from ..errors import ReasonCode, Rejection
from ..kafka.batches import Pending, Send
from ..kafka.producer import RECORD_OVERHEAD_BYTES, KafkaProducerHandle
from ..sources.base import READY, Health
from .base import DeadLetter, Delivery

if TYPE_CHECKING:
    from ..process import OutRecord

MESSAGE_HEADER_BYTES = 4000


class KafkaSink:
    """Events to one topic."""

    def __init__(self, name: str, topic: str, producer: KafkaProducerHandle) -> None:
        self.name = name
        self.topic = topic
        self._producer = producer

    async def start(self) -> None:
        await self._producer.start()

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        topic = self.topic
        limit = self._producer.limit(topic)
        sends: list[Send] = []
        refused: list[DeadLetter] = []
        for r in records:
            if len(r.value) + len(r.key) <= limit:
                sends.append(Send(topic, r.key, r.value))
                continue
            refused.append(
                DeadLetter(
                    Rejection(
                        ReasonCode.TOO_LARGE,
                        f"output event of {len(r.value)} bytes is over the max.message.bytes of "
                        f"topic {topic} ({limit + RECORD_OVERHEAD_BYTES})",
                        "$",
                        r.value,
                        origins[r.index],
                    ),
                    r.key,
                )
            )
        pending = await self._producer.queue(sends)
        return asyncio.ensure_future(self._settle(pending, refused))

    async def _settle(self, pending: list[Pending], refused: list[DeadLetter]) -> list[DeadLetter]:
        await self._producer.deliver(pending)
        return refused

    async def close(self) -> None:
        await self._producer.stop()

    def health(self) -> Health:
        return READY


# A Kafka source's origin: topic/partition/offset (topic names hold neither "/" nor ":").
_KAFKA_ORIGIN = re.compile(r"^([A-Za-z0-9._-]+)/(\d+)/(\d+)$")


def dead_letter_headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    kafka = _KAFKA_ORIGIN.match(rejection.source)
    headers = [
        ("auditpipe.reason", rejection.code.value.encode()),
        ("auditpipe.message", rejection.message.encode("utf-8", "replace")[:MESSAGE_HEADER_BYTES]),
        ("auditpipe.path", rejection.path.encode()),
    ]
    if kafka is not None:
        topic, partition, offset = kafka.groups()
        headers += [
            ("auditpipe.source.topic", topic.encode()),
            ("auditpipe.source.partition", partition.encode()),
            ("auditpipe.source.offset", offset.encode()),
        ]
    else:
        headers.append(("auditpipe.source", rejection.source.encode("utf-8", "replace")))
    return headers


class KafkaDeadLetters:
    """Dead letters to a topic: the original bytes, key and headers, plus ours."""

    def __init__(self, topic: str, producer: KafkaProducerHandle) -> None:
        self.topic = topic
        self._producer = producer

    async def start(self) -> None:
        await self._producer.start()

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        room = self._producer.limit(self.topic) - 7 * RECORD_OVERHEAD_BYTES
        sends = []
        for letter in letters:
            rejection = letter.rejection
            value = rejection.raw
            extra = dead_letter_headers(rejection)
            if len(value) > room:
                # The broker would refuse the original; keep its head and say so.
                extra.append(("auditpipe.truncated-from-bytes", str(len(value)).encode()))
                value = value[:room]
            sends.append(Send(self.topic, letter.key, value, letter.headers + extra))
        pending = await self._producer.queue(sends)
        return asyncio.ensure_future(self._producer.deliver(pending))

    async def close(self) -> None:
        await self._producer.stop()

    def health(self) -> Health:
        return READY
