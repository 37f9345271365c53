"""Dead letters reported as text (stderr offline, the log in a service), and
a fan-out that hands dead letters to several such outputs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from ..sources.base import READY, Health
from .base import DeadLetter, DeadLetterSink, settled

log = logging.getLogger("auditpipe")


class ReportedDeadLetters:
    """Each dead letter as one line, ``file:line: reason at $.path: message``."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit

    async def start(self) -> None:
        pass

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        for letter in letters:
            self._emit(letter.rejection.describe())
        return settled(None)

    async def close(self) -> None:
        pass

    def health(self) -> Health:
        return READY


def logged_dead_letters() -> ReportedDeadLetters:
    """Dead letters as log warnings: the reason and position, not the bytes."""
    return ReportedDeadLetters(lambda text: log.warning("Rejected a record.", extra={"detail": text}))


class FanOut:
    """Every dead letter to each of several outputs; durable when all are."""

    def __init__(self, sinks: Sequence[DeadLetterSink]) -> None:
        self._sinks = list(sinks)

    async def start(self) -> None:
        for sink in self._sinks:
            await sink.start()

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        waits = [await sink.send(letters) for sink in self._sinks]
        return asyncio.ensure_future(_all(waits))

    async def close(self) -> None:
        for sink in self._sinks:
            await sink.close()

    def health(self) -> Health:
        for sink in self._sinks:
            health = sink.health()
            if not health.ready:
                return health
        return READY


async def _all(waits: list[Awaitable[None]]) -> None:
    for wait in waits:
        await wait
