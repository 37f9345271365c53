"""The shared producer's retry rules, with a fake aiokafka producer: a broken
idempotent sequence replaces the producer once and resends what failed; a
retriable failure is retried however long it lasts; anything else stops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, OutOfOrderSequenceNumber, TopicAuthorizationFailedError

from pipeline.config import Kafka
from pipeline.errors import DeliveryError
from pipeline.kafka import producer as producer_module
from pipeline.kafka.batches import Send
from pipeline.kafka.producer import KafkaProducerHandle

Outcome = Callable[[list[bytes]], BaseException | None]


class FakeBuilder:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, key: bytes | None, value: bytes, timestamp: None, headers: Any) -> object:
        self.values.append(value)
        return object()


class FakeProducer:
    """Takes batches; each batch's future ends as ``outcome`` says."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.acknowledged: list[bytes] = []
        self.stopped = False

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    def create_batch(self) -> FakeBuilder:
        return FakeBuilder()

    async def send_batch(self, builder: FakeBuilder, topic: str, partition: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failure = self.outcome(builder.values)
        if failure is None:
            self.acknowledged += builder.values
            future.set_result(None)
        else:
            future.set_exception(failure)
        return future

    async def stop(self) -> None:
        self.stopped = True


class Retries:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def delivery_retried(self, output: str, records: int) -> None:
        self.counts[output] = self.counts.get(output, 0) + records


SENDS = [Send("audit.out", b"a", b"one"), Send("audit.out", b"b", b"two")]


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep

    async def quick(delay: float, result: Any = None) -> Any:
        return await real_sleep(0, result)

    monkeypatch.setattr(producer_module.asyncio, "sleep", quick)


def handle_with(first: FakeProducer, renewed: list[FakeProducer], retries: Retries) -> KafkaProducerHandle:
    handle = KafkaProducerHandle(Kafka(), ["audit.out"], {"audit.out": "rest"}, retries)
    handle.producer = first  # type: ignore[assignment]
    made = iter(renewed)

    async def new_producer() -> Any:
        return next(made)

    handle._new_producer = new_producer  # type: ignore[method-assign]
    return handle


def test_a_broken_sequence_replaces_the_producer_once_and_resends() -> None:
    async def scenario() -> None:
        first = FakeProducer(lambda _: OutOfOrderSequenceNumber())
        second = FakeProducer(lambda _: None)
        retries = Retries()
        handle = handle_with(first, [second], retries)
        # Two deliveries on their way when the sequence breaks: one replacement, not two.
        pending = [await handle.queue(SENDS[:1]), await handle.queue(SENDS[1:])]
        await asyncio.gather(*(handle.deliver(p) for p in pending))
        await asyncio.sleep(0)  # the old producer is stopped in the background
        assert sorted(second.acknowledged) == [b"one", b"two"]
        assert handle.producer is second and handle.generation == 1
        assert first.stopped
        assert retries.counts == {"rest": 2}

    asyncio.run(scenario())


def test_a_retriable_failure_is_retried_as_long_as_it_lasts() -> None:
    async def scenario() -> None:
        failures = iter(range(50))  # far beyond the 20 attempts that used to end the run

        def outcome(_: list[bytes]) -> BaseException | None:
            return KafkaConnectionError() if next(failures, None) is not None else None

        only = FakeProducer(outcome)
        handle = handle_with(only, [], Retries())
        await handle.deliver(await handle.queue(SENDS))
        assert only.acknowledged == [b"one", b"two"]
        assert handle.generation == 0  # the same producer throughout

    asyncio.run(scenario())


def test_a_failure_for_good_stops_the_delivery() -> None:
    async def scenario() -> None:
        handle = handle_with(FakeProducer(lambda _: TopicAuthorizationFailedError()), [], Retries())
        with pytest.raises(DeliveryError, match=r"delivery to audit.out\[0\] failed"):
            await handle.deliver(await handle.queue(SENDS))

    asyncio.run(scenario())
