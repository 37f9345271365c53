"""The runner: sources -> process -> sinks -> checkpoint -> acknowledge.

asyncio only moves data here; every decision is elsewhere. ``process`` is the
pure transform, the sinks say when records are durable, and
``checkpoint.Checkpoints`` says which source positions that makes safe to
acknowledge. Per source, at most ``max_inflight_batches`` batches are on their
way at once, which bounds memory when an output is slow.

A delivery that fails for good stops the run: nothing at or after that batch
is acknowledged, so a restart reads it again (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Protocol

from .checkpoint import Checkpoints
from .errors import DeliveryError
from .process import Batch, Processor, Stats
from .sinks.base import DeadLetter, DeadLetterSink, Delivery, Sink
from .sources.base import Drain, Source, SourceBatch

log = logging.getLogger("auditpipe")


class RunObserver(Protocol):
    """What the runner reports as it goes (metrics implement it)."""

    def batch_processed(self, stats: Stats, seconds: float) -> None: ...

    def delivered(self, output: str, count: int) -> None: ...

    def batch_durable(self, seconds: float) -> None: ...

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None: ...


class Runner:
    """Wires sources, the processor and sinks; ``run`` returns when all sources
    are exhausted or ``request_stop`` was called and in-flight work settled."""

    def __init__(
        self,
        processor: Processor,
        sources: Sequence[Source],
        sinks: Mapping[str, Sink],
        dead_letters: DeadLetterSink,
        *,
        max_inflight_batches: int,
        shutdown_timeout_secs: float,
        observer: RunObserver | None = None,
    ) -> None:
        self.processor = processor
        self.sources = list(sources)
        self.sinks = dict(sinks)
        self.dead_letters = dead_letters
        self.max_inflight = max_inflight_batches
        self.shutdown_timeout = shutdown_timeout_secs
        self.observer = observer
        self.stats = Stats()
        self.failure: DeliveryError | None = None
        self._stopping = asyncio.Event()
        self._tasks: dict[str, set[asyncio.Task[None]]] = {s.name: set() for s in self.sources}
        self._ack_locks = {s.name: asyncio.Lock() for s in self.sources}
        self._inflight_since: dict[int, float] = {}  # batch -> when it was read (perf_counter)

    # ---- lifecycle -----------------------------------------------------

    async def start(self) -> None:
        """Start the sinks, then the sources (so nothing is read before it can go out)."""
        for sink in self.sinks.values():
            await sink.start()
        await self.dead_letters.start()
        for source in self.sources:
            await source.start(self._drainer(source))

    def request_stop(self) -> None:
        self._stopping.set()
        for source in self.sources:
            source.request_stop()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def oldest_inflight_secs(self) -> float:
        """How long the oldest batch not yet durable has been on its way (0: none)."""
        oldest = min(self._inflight_since.values(), default=None)
        return 0.0 if oldest is None else time.perf_counter() - oldest

    async def run(self) -> None:
        """Pump every source until done or stopped; then settle what is in flight.

        Raises
        ------
        DeliveryError
            A delivery failed for good (after the in-flight work settled).
        """
        pumps = [asyncio.ensure_future(self._pump(s)) for s in self.sources]
        try:
            await asyncio.gather(*pumps)
        finally:
            for pump in pumps:
                pump.cancel()
            await self._settle_all(self.shutdown_timeout)
        if self.failure is not None:
            raise self.failure

    async def close(self) -> None:
        for source in self.sources:
            await source.close()
        for sink in self.sinks.values():
            await sink.close()
        await self.dead_letters.close()

    # ---- the loop --------------------------------------------------------

    async def _pump(self, source: Source) -> None:
        checkpoints: Checkpoints[object] = Checkpoints(source.ordered)
        window = asyncio.Semaphore(self.max_inflight)
        async for batch in source.batches():
            await window.acquire()
            if self.failure is not None:
                window.release()
                break
            started = time.perf_counter()
            result = self.processor.process(batch.values, batch.origins)
            for rejection in batch.errors:
                result.stats.reject(rejection)
            self.stats.add(result.stats)
            if self.observer is not None:
                self.observer.batch_processed(result.stats, time.perf_counter() - started)
            if batch.on_processed is not None:
                batch.on_processed(result)
            ticket = checkpoints.begin(batch.position)
            try:
                deliveries = await self._send(result, batch)
            except DeliveryError as exc:
                window.release()
                await self._failed(source, checkpoints, ticket, exc)
                break
            task = asyncio.ensure_future(self._settle(source, checkpoints, ticket, deliveries, window, started))
            self._tasks[source.name].add(task)
            self._inflight_since[id(task)] = started
            task.add_done_callback(self._forget)
            if self._stopping.is_set():
                break

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._inflight_since.pop(id(task), None)
        for tasks in self._tasks.values():
            tasks.discard(task)

    async def _send(self, result: Batch, batch: SourceBatch) -> list[Delivery]:
        deliveries: list[Delivery] = []
        for name, records in result.outputs.items():
            sent = await self.sinks[name].send(records, batch.origins)
            deliveries.append(asyncio.ensure_future(_counted(sent, self.observer, name, len(records))))
        letters = [
            DeadLetter(
                rejection, batch.keys[i] if batch.keys else None, list(batch.headers[i]) if batch.headers else []
            )
            for i, rejection in result.dead_letters
        ]
        letters += [DeadLetter(rejection) for rejection in batch.errors]
        if letters:
            deliveries.append(asyncio.ensure_future(_nothing_refused(await self._dead_letter(letters))))
        return deliveries

    async def _dead_letter(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        if self.observer is not None:
            self.observer.dead_lettered(letters)
        return await self.dead_letters.send(letters)

    async def _settle(
        self,
        source: Source,
        checkpoints: Checkpoints[object],
        ticket: int,
        deliveries: list[Delivery],
        window: asyncio.Semaphore,
        started: float,
    ) -> None:
        try:
            refused: list[DeadLetter] = []
            for delivery in deliveries:
                refused += await delivery
            if refused:
                await (await self._dead_letter(refused))
            if self.observer is not None:
                self.observer.batch_durable(time.perf_counter() - started)
            # One acknowledgement at a time per source, in release order, so a
            # committed offset never moves backwards.
            async with self._ack_locks[source.name]:
                released = checkpoints.durable(ticket)
                if released:
                    await source.acknowledge(released)
        except DeliveryError as exc:
            await self._failed(source, checkpoints, ticket, exc)
        finally:
            window.release()

    async def _failed(self, source: Source, checkpoints: Checkpoints[object], ticket: int, exc: DeliveryError) -> None:
        if self.failure is None:
            self.failure = exc  # the caller reports it when run() raises it
        position = checkpoints.failed(ticket)
        if position is not None:
            await source.fail(position, str(exc))
        self.request_stop()

    # ---- draining --------------------------------------------------------

    def _drainer(self, source: Source) -> Drain:
        async def drain() -> None:
            await self._settle_source(source.name)

        return drain

    async def _settle_source(self, name: str) -> None:
        while self._tasks[name]:
            await asyncio.gather(*list(self._tasks[name]), return_exceptions=True)

    async def _settle_all(self, timeout: float) -> None:
        pending = [t for tasks in self._tasks.values() for t in tasks]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=timeout)
        if still:
            log.error(
                "In-flight batches did not settle before the shutdown timeout; they were not acknowledged.",
                extra={"batches": len(still), "timeout_secs": timeout},
            )
            for task in still:
                task.cancel()
            if self.failure is None:
                self.failure = DeliveryError(f"{len(still)} batch(es) still undelivered after {timeout:g} s")


async def _counted(delivery: Delivery, observer: RunObserver | None, output: str, count: int) -> list[DeadLetter]:
    refused = await delivery
    if observer is not None:
        observer.delivered(output, count - len(refused))
    return refused


async def _nothing_refused(wait: Awaitable[None]) -> list[DeadLetter]:
    await wait
    return []
