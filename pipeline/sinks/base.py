"""The sink contract: take encoded events, report when they are durable.

``send`` queues a batch's records and returns at once (it may wait when the
sink's buffer is full: backpressure); the awaitable it returns resolves once
every record is durable (Kafka ``acks=all``, a flushed file, a 2xx answer).
Records the sink refuses itself, and that no retry can change (over a
topic's size limit, an event Falco would drop), come back from it as
``DeadLetter``s, which the runner delivers to the dead-letter output before
it acknowledges anything. A failure that no retry can mend raises
``errors.DeliveryError``.

Sinks retry what is worth retrying themselves (a broker restart, a 503), so
the runner never sees a transient error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeVar

from ..errors import Rejection
from ..sources.base import Headers, Health

if TYPE_CHECKING:
    from ..process import OutRecord

T = TypeVar("T")


@dataclass(slots=True)
class DeadLetter:
    """A rejected record on its way to the dead-letter output.

    ``key`` and ``headers`` are the input record's own (Kafka), kept so a
    replay of the dead letter looks like the original.
    """

    rejection: Rejection
    key: bytes | None = None
    headers: Headers = field(default_factory=list)


Delivery = Awaitable[list[DeadLetter]]


class Sink(Protocol):
    """An output for events."""

    name: str

    async def start(self) -> None:
        """Open or connect. May raise ``errors.StartupError``."""

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        """Queue ``records``; await the result for durability. ``origins[r.index]``
        names where record ``r`` came from."""

    async def close(self) -> None:
        """Flush and release (after the last delivery settled)."""

    def health(self) -> Health:
        """Able to deliver now?"""


class DeadLetterSink(Protocol):
    """Where rejected records go, with their reasons."""

    async def start(self) -> None: ...

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        """Queue ``letters``; await the result for durability."""

    async def close(self) -> None: ...

    def health(self) -> Health: ...


def settled(value: T) -> asyncio.Future[T]:
    """An awaitable that is already done (for sinks whose writes are durable at once)."""
    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    future.set_result(value)
    return future
