"""Files read once, in order: JSON lines, plain or gzip; ``-`` is standard input.

Reading runs in a thread that hands batches over through a small queue, so a
slow or idle standard input never blocks the event loop (signals still stop
the run at once) and decompression overlaps with processing. A batch closes
at ``max_batch_records`` records or ``max_batch_bytes`` bytes, whichever
comes first, so memory stays bounded whatever the record sizes.

A file that cannot be read to its end (missing, a directory, a truncated or
corrupt gzip) is reported through ``on_problem`` after everything readable in
it was handed over; the next file is read as usual.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Limits
from ..errors import ReasonCode, Rejection
from .base import READY, Drain, Health, SourceBatch
from .lines import InputError, TooLarge, display_name, iter_lines

QUEUE_BATCHES = 2


@dataclass(frozen=True, slots=True)
class _Problem:
    message: str


_END = object()


class FileSource:
    """Read ``paths`` once. Positions are not acknowledged: a file read once
    has nothing to resume from."""

    name = "file"
    ordered = True

    def __init__(
        self,
        paths: Sequence[str],
        limits: Limits,
        on_problem: Callable[[str], None],
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.paths = list(paths)
        self._limits = limits
        self._on_problem = on_problem
        self._on_bytes = on_bytes
        self._stopping = threading.Event()  # seen by the reader thread
        self._stop_requested = asyncio.Event()  # seen by the loop
        self.problems: list[str] = []

    async def start(self, drain: Drain) -> None:
        pass

    def _read(self, put: Callable[[Any], bool]) -> None:
        limits = self._limits
        max_records, max_bytes = limits.max_batch_records, limits.max_batch_bytes
        values: list[bytes] = []
        origins: list[str] = []
        errors: list[Rejection] = []
        size = 0
        on_bytes = self._on_bytes
        for path in self.paths:
            name = display_name(path)
            try:
                for number, line in iter_lines(path, limits.max_record_bytes):
                    if line is None:  # standard input has nothing more right now: hand over what we have
                        if values or errors:
                            if not put(SourceBatch(values, origins, errors=errors)) or self._stopping.is_set():
                                return
                            values, origins, errors, size = [], [], [], 0
                        continue
                    if isinstance(line, TooLarge):
                        errors.append(
                            Rejection(
                                ReasonCode.TOO_LARGE,
                                f"line is over the limit of {line.limit} bytes (skipped up to the next line; not kept)",
                                "$",
                                b"",
                                f"{name}:{number}",
                            )
                        )
                        size += line.limit
                    else:
                        values.append(line)
                        origins.append(f"{name}:{number}")
                        size += len(line)
                        if on_bytes is not None:
                            on_bytes(len(line) + 1)
                    if len(values) + len(errors) >= max_records or size >= max_bytes:
                        if not put(SourceBatch(values, origins, errors=errors)) or self._stopping.is_set():
                            return
                        values, origins, errors, size = [], [], [], 0
            except InputError as exc:
                if values or errors:
                    if not put(SourceBatch(values, origins, errors=errors)):
                        return
                    values, origins, errors, size = [], [], [], 0
                if not put(_Problem(str(exc))):
                    return
            if self._stopping.is_set():
                return
        if values or errors:
            put(SourceBatch(values, origins, errors=errors))

    async def batches(self) -> AsyncIterator[SourceBatch]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE_BATCHES)

        def put(item: Any) -> bool:
            # Runs in the reader thread: blocks while the queue is full. False
            # once the loop is gone (the run ended while we were reading).
            try:
                asyncio.run_coroutine_threadsafe(queue.put(item), loop).result()
            except BaseException:  # the loop closed or was cancelled: nobody reads this any more
                return False
            return True

        def read() -> None:
            try:
                self._read(put)
            except BaseException as exc:  # hand any surprise to the loop, never a thread traceback
                put(exc)
            put(_END)

        threading.Thread(target=read, name="auditpipe-file-reader", daemon=True).start()
        stop = asyncio.ensure_future(self._stop_requested.wait())
        try:
            while True:
                get = asyncio.ensure_future(queue.get())
                await asyncio.wait([get, stop], return_when=asyncio.FIRST_COMPLETED)
                if not get.done():  # stopped while the reader waits for input (an idle stdin)
                    get.cancel()
                    return
                item = get.result()
                if item is _END:
                    return
                if isinstance(item, _Problem):
                    self.problems.append(item.message)
                    self._on_problem(item.message)
                    continue
                if isinstance(item, BaseException):
                    raise item
                yield item
                if self._stopping.is_set():
                    return
        finally:
            stop.cancel()

    async def acknowledge(self, positions: list[object]) -> None:
        pass

    async def fail(self, position: object, reason: str) -> None:
        pass

    def request_stop(self) -> None:
        self._stopping.set()
        self._stop_requested.set()

    async def close(self) -> None:
        self._stopping.set()

    def health(self) -> Health:
        return READY
