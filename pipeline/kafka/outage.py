"""Riding out a broker outage quietly: capped exponential backoff between
connection attempts, and aiokafka's per-attempt log lines folded into one line
per kind and minute that says what is wrong and for how long.

aiokafka retries a lost connection every ``retry_backoff_ms`` (100 ms) from
each of its loops (fetcher, coordinator, sender, metadata), and logs one or two
ERROR lines per attempt: with a broker down for minutes that is over a
hundred attempts and lines a second. It has no ``reconnect.backoff.ms``, so
``install_reconnect_backoff`` adds one where it opens connections.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Address = tuple[str, int]


@dataclass(slots=True)
class _Failures:
    count: int
    retry_at: float


class ReconnectBackoff:
    """When a broker address may be tried again: ``initial`` seconds after its
    first failed attempt, doubling up to ``maximum``; reset by a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = max(maximum, initial)
        self._failures: dict[Address, _Failures] = {}

    def wait_secs(self, address: Address, now: float) -> float:
        failures = self._failures.get(address)
        return 0.0 if failures is None else max(failures.retry_at - now, 0.0)

    def failed(self, address: Address, now: float) -> None:
        failures = self._failures.get(address)
        count = 1 if failures is None else failures.count + 1
        delay = min(self.initial * 2 ** (count - 1), self.maximum)
        self._failures[address] = _Failures(count, now + delay)

    def succeeded(self, address: Address) -> None:
        self._failures.pop(address, None)


class _Installed:
    """The process-wide backoff the wrapped ``create_conn`` consults."""

    backoff = ReconnectBackoff(0.1, 10.0)
    done = False


def install_reconnect_backoff(initial_secs: float, maximum_secs: float) -> None:
    """Make every aiokafka client of this process wait between attempts to
    reach a broker that refused the last one.

    aiokafka opens its connections through ``aiokafka.client.create_conn``;
    wrapping that one name is the only place the attempts can be paced
    without copying its client.
    """
    _Installed.backoff = ReconnectBackoff(initial_secs, maximum_secs)
    if _Installed.done:
        return
    import aiokafka.client

    original: Callable[..., Awaitable[Any]] = aiokafka.client.create_conn

    async def create_conn(host: str, port: int, **options: Any) -> Any:
        loop = asyncio.get_running_loop()
        address = (host, port)
        backoff = _Installed.backoff
        delay = backoff.wait_secs(address, loop.time())
        if delay:
            await asyncio.sleep(delay)
        try:
            conn = await original(host, port, **options)
        except asyncio.CancelledError:
            raise
        except BaseException:
            backoff.failed(address, loop.time())
            raise
        backoff.succeeded(address)
        return conn

    aiokafka.client.create_conn = create_conn
    _Installed.done = True


@dataclass(slots=True)
class _Streak:
    started: float  # when this kind of line started coming
    window_start: float
    last: float
    folded: int  # lines held back in the current window


class FoldRepeats(logging.Filter):
    """Lets the first line of each kind (logger and message template) through,
    then at most one per ``window_secs``, carrying ``repeated`` (lines held
    back since the last one) and ``failing_for_secs`` (since this kind of line
    started, with no pause longer than two windows).

    Only loggers under ``prefix`` are folded; the pipeline's own lines pass.
    """

    def __init__(self, prefix: str = "aiokafka", window_secs: float = 60.0, max_kinds: int = 512) -> None:
        super().__init__()
        self.prefix = prefix
        self.window = window_secs
        self.max_kinds = max_kinds
        self._streaks: dict[tuple[str, str], _Streak] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefix):
            return True
        now = record.created
        kind = (record.name, str(record.msg))
        streak = self._streaks.get(kind)
        if streak is None or now - streak.last > 2 * self.window:
            if len(self._streaks) >= self.max_kinds:
                self._streaks.clear()
            self._streaks[kind] = _Streak(now, now, now, 0)
            return True
        streak.last = now
        if now - streak.window_start < self.window:
            streak.folded += 1
            return False
        setattr(record, "repeated", streak.folded)  # noqa: B010 - extra fields of the log line
        setattr(record, "failing_for_secs", round(now - streak.started, 1))  # noqa: B010
        streak.window_start, streak.folded = now, 0
        return True
