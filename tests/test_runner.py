"""The runner with fake sources and sinks: acknowledgements follow durability,
in order; a failed delivery stops without acknowledging past it; refused
records reach the dead-letter output before anything is acknowledged; a drain
settles everything in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import pytest

from pipeline.errors import DeliveryError, ReasonCode, Rejection
from pipeline.process import OutRecord
from pipeline.runner import Runner
from pipeline.sinks.base import DeadLetter, Delivery
from pipeline.sources.base import READY, Drain, Health, SourceBatch

from .helpers import event, line, processor

GOOD = line(event())


class FakeSource:
    """Hands over the given batches; records what was acknowledged or failed."""

    def __init__(self, batches: list[list[bytes]], ordered: bool = True) -> None:
        self.name = "fake"
        self.ordered = ordered
        self._batches = batches
        self.acknowledged: list[object] = []
        self.failed: list[object] = []
        self.drain: Drain | None = None
        self.closed = False

    async def start(self, drain: Drain) -> None:
        self.drain = drain

    async def batches(self) -> AsyncIterator[SourceBatch]:
        for n, values in enumerate(self._batches):
            yield SourceBatch(values, [f"b{n}:{i}" for i in range(len(values))], position=n)

    async def acknowledge(self, positions: list[object]) -> None:
        self.acknowledged.extend(positions)

    async def fail(self, position: object, reason: str) -> None:
        self.failed.append(position)

    def request_stop(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    def health(self) -> Health:
        return READY


class FakeSink:
    """Each send is durable when the test says so (``settle``), or fails."""

    def __init__(self, name: str = "default") -> None:
        self.name = name
        self.pending: list[asyncio.Future[list[DeadLetter]]] = []
        self.received: list[list[bytes]] = []

    async def start(self) -> None:
        pass

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        self.received.append([r.value for r in records])
        future: asyncio.Future[list[DeadLetter]] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future

    def settle(self, index: int, refused: list[DeadLetter] | None = None) -> None:
        self.pending[index].set_result(refused or [])

    def fail(self, index: int) -> None:
        self.pending[index].set_exception(DeliveryError("refused for good"))

    async def close(self) -> None:
        pass

    def health(self) -> Health:
        return READY


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    async def start(self) -> None:
        pass

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        self.letters.extend(letters)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def close(self) -> None:
        pass

    def health(self) -> Health:
        return READY


def make(
    batches: list[list[bytes]], *, ordered: bool = True, inflight: int = 8
) -> tuple[Runner, FakeSource, FakeSink, FakeDeadLetters]:
    source, sink, dead = FakeSource(batches, ordered), FakeSink(), FakeDeadLetters()
    runner = Runner(
        processor([{"level": "Metadata"}]),
        [source],
        {"default": sink},
        dead,
        max_inflight_batches=inflight,
        shutdown_timeout_secs=5,
    )
    return runner, source, sink, dead


async def until(condition: Any) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition not reached")


def test_acknowledgements_follow_durability_in_order() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD], [GOOD], [GOOD]])
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 3)
        sink.settle(2)
        sink.settle(1)
        await asyncio.sleep(0.02)
        assert source.acknowledged == []  # batch 0 is not durable yet
        sink.settle(0)
        await run
        assert source.acknowledged == [0, 1, 2]

    asyncio.run(scenario())


def test_unordered_source_acknowledges_each_batch_when_durable() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD], [GOOD]], ordered=False)
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 2)
        sink.settle(1)
        await until(lambda: source.acknowledged == [1])
        sink.settle(0)
        await run
        assert source.acknowledged == [1, 0]

    asyncio.run(scenario())


def test_a_failed_delivery_stops_without_acknowledging_past_it() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD], [GOOD], [GOOD]])
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 3)
        sink.settle(0)
        sink.fail(1)
        sink.settle(2)
        with pytest.raises(DeliveryError):
            await run
        assert source.acknowledged == [0]
        assert source.failed == [1]

    asyncio.run(scenario())


def test_refused_records_are_dead_lettered_before_the_acknowledgement() -> None:
    async def scenario() -> None:
        runner, source, sink, dead = make([[GOOD, b"{not json"]])
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 1)
        refused = DeadLetter(Rejection(ReasonCode.TOO_LARGE, "too big for the topic", "$", GOOD, "b0:0"))
        assert [d.rejection.code for d in dead.letters] == [ReasonCode.INVALID_JSON]  # sent with the batch
        sink.settle(0, [refused])
        await run
        assert [d.rejection.code for d in dead.letters] == [ReasonCode.INVALID_JSON, ReasonCode.TOO_LARGE]
        assert source.acknowledged == [0]

    asyncio.run(scenario())


def test_in_flight_batches_are_bounded() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD]] * 5, inflight=2)
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 2)
        await asyncio.sleep(0.02)
        assert len(sink.pending) == 2  # the third batch waits for a slot
        sink.settle(0)
        await until(lambda: len(sink.pending) == 3)
        for i in range(1, 5):
            await until(lambda i=i: len(sink.pending) > i)
            sink.settle(i)
        await run
        assert source.acknowledged == [0, 1, 2, 3, 4]

    asyncio.run(scenario())


def test_drain_settles_everything_in_flight() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD], [GOOD]])
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 2)
        assert source.drain is not None
        drained = asyncio.ensure_future(source.drain())
        await asyncio.sleep(0.02)
        assert not drained.done()  # a rebalance waits for delivery...
        sink.settle(0)
        sink.settle(1)
        await drained
        assert source.acknowledged == [0, 1]  # ...and commits before giving partitions up
        await run

    asyncio.run(scenario())


def test_shutdown_timeout_leaves_undelivered_batches_unacknowledged() -> None:
    async def scenario() -> None:
        runner, source, sink, _ = make([[GOOD], [GOOD]])
        runner.shutdown_timeout = 0.05
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 2)
        sink.settle(0)
        with pytest.raises(DeliveryError, match="still undelivered"):
            await run
        assert source.acknowledged == [0]

    asyncio.run(scenario())


def test_the_age_of_the_oldest_batch_in_flight_says_when_delivery_is_stuck() -> None:
    async def scenario() -> None:
        runner, _, sink, _ = make([[GOOD], [GOOD]])
        assert runner.oldest_inflight_secs() == 0.0
        await runner.start()
        run = asyncio.ensure_future(runner.run())
        await until(lambda: len(sink.pending) == 2)
        await asyncio.sleep(0.05)
        assert runner.oldest_inflight_secs() >= 0.05  # nothing durable yet: the age grows
        sink.settle(0)
        sink.settle(1)
        await run
        assert runner.oldest_inflight_secs() == 0.0  # all durable: nothing waits

    asyncio.run(scenario())
