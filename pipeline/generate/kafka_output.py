"""Producing generated records to a Kafka topic: idempotent, ``acks=all``, keyed by auditID.

Every send's delivery is counted when the broker acknowledges it, so the run can
say exactly how many records (and events) arrived. A failed delivery stops the
run. A Ctrl-C stops it between two events and still waits for what was sent; a
second Ctrl-C stops the waiting too.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from .file_output import BATCH_MAX_WAIT_S, MAX_SLEEP_S
from .framing import Framer, Record, audit_id
from .pacing import RateSchedule
from .progress import Progress, StopRequest

__all__ = ["DeliveryError", "KafkaTarget", "produce_records"]

# aiokafka keeps one request in flight per broker, and a request carries one batch per partition:
# a request this large lets every partition's batch ride along (the service's default too). Single
# records are held to --max-message-bytes before they are sent.
MAX_REQUEST_BYTES: Final = 16 * 1024 * 1024


# aiokafka logs retries and metadata misses as warnings; the command reports the outcome in one line
# of its own, so they stay quiet unless the embedding program configures logging for them.
logging.getLogger("aiokafka").addHandler(logging.NullHandler())


class DeliveryError(Exception):
    """The broker refused a record, or could not be reached; the message says which and why."""


@dataclass(frozen=True, slots=True)
class KafkaTarget:
    """Where and how to produce."""

    bootstrap: str
    topic: str
    compression: str = "lz4"
    max_message_bytes: int = 1_000_000
    linger_ms: int = 5


class _Deliveries:
    """Counts acknowledged records; remembers the first failure."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.error: BaseException | None = None

    def callback(self, events: int) -> Callable[[asyncio.Future[Any]], None]:
        """The done-callback of a record holding ``events`` events."""

        def done(future: asyncio.Future[Any]) -> None:
            if future.cancelled():
                self.error = self.error or DeliveryError("a send was cancelled before the broker acknowledged it")
            elif (exc := future.exception()) is not None:
                self.error = self.error or exc
            else:
                self.progress.delivered_records += 1
                self.progress.delivered_events += events

        return done


async def produce_records(
    lines: Iterable[bytes],
    target: KafkaTarget,
    framer: Framer,
    schedule: RateSchedule | None,
    progress: Progress,
    stop: StopRequest,
) -> None:
    """Frame each event of ``lines`` and produce the records to ``target.topic``.

    Parameters
    ----------
    lines : iterable of bytes
        The event lines (already cut to the wanted count).
    target : KafkaTarget
        Broker, topic and producer settings.
    framer : Framer
        The output shape; records of one event are keyed by its auditID, EventLists are not keyed.
    schedule : RateSchedule or None
        The pace; None produces as fast as the broker takes it.
    progress : Progress
        Counters; ``delivered_*`` count acknowledgements.
    stop : StopRequest
        Set by SIGINT (installed here, when on the main thread).

    Raises
    ------
    DeliveryError
        When the broker cannot be reached or refuses a record (after what was
        already sent has been waited for).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=target.bootstrap,
        acks="all",
        enable_idempotence=True,
        compression_type=None if target.compression == "none" else target.compression,
        linger_ms=target.linger_ms,
        max_batch_size=target.max_message_bytes,
        max_request_size=max(MAX_REQUEST_BYTES, 2 * target.max_message_bytes),
    )
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    on_main_thread = threading.current_thread() is threading.main_thread()

    def on_sigint() -> None:
        # The first Ctrl-C stops between two events and waits for the deliveries; a second one
        # also stops waiting (a send blocked on an unreachable broker, a slow flush).
        if stop.requested and task is not None:
            task.cancel()
        stop.request()

    if on_main_thread:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    deliveries = _Deliveries(progress)
    try:
        try:
            await producer.start()
            await _send_all(producer, lines, target, framer, schedule, progress, stop, deliveries)
        except asyncio.CancelledError:
            if not stop.requested or task is None:
                raise
            task.uncancel()  # our own second Ctrl-C: report what was delivered
        finally:
            if on_main_thread:
                loop.remove_signal_handler(signal.SIGINT)
            await producer.stop()  # waits for every record already handed over
    except KafkaError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from None
    if deliveries.error is not None:
        error = deliveries.error
        raise DeliveryError(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)


async def _send_all(
    producer: Any,
    lines: Iterable[bytes],
    target: KafkaTarget,
    framer: Framer,
    schedule: RateSchedule | None,
    progress: Progress,
    stop: StopRequest,
    deliveries: _Deliveries,
) -> None:
    clock = asyncio.get_running_loop().time
    pending_since = 0.0
    topic, limit = target.topic, target.max_message_bytes

    async def send(record: Record, key: bytes | None) -> None:
        value, events = record
        if len(value) > limit:
            raise DeliveryError(f"a record of {len(value):,} bytes is over --max-message-bytes {limit:,}")
        future = await producer.send(topic, value, key=key)
        future.add_done_callback(deliveries.callback(events))
        progress.records += 1
        progress.bytes += len(value)

    for line in lines:
        if stop.requested or deliveries.error is not None:
            break
        if schedule is not None:
            wait = schedule.delay(clock())
            while wait > 0:
                if framer.pending and clock() - pending_since >= BATCH_MAX_WAIT_S:
                    for record in framer.flush():
                        await send(record, None)
                await asyncio.sleep(min(wait, MAX_SLEEP_S))
                if stop.requested:
                    break
                wait = schedule.delay(clock())
            if wait > 0:  # stopped while waiting: this event was never due
                break
        records = framer.add(line)
        progress.events += 1
        key = audit_id(line) if framer.per_event else None  # an EventList has no one auditID
        for record in records:
            await send(record, key)
        if schedule is not None and framer.pending == 1:
            pending_since = clock()
    if deliveries.error is None:
        for record in framer.flush():
            await send(record, None)
