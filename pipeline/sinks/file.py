"""File outputs: events as JSON lines, dead letters as the original records.

A write is durable once flushed to the operating system. Errors name the path
and the reason; a reader that went away (a broken pipe) stops the run quietly.
"""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Awaitable, Sequence
from typing import IO, TYPE_CHECKING

from ..errors import DeliveryError, OutputClosed, StartupError
from ..sources.base import READY, Health
from .base import DeadLetter, Delivery, settled

if TYPE_CHECKING:
    from ..process import OutRecord

STDOUT = "-"

log = logging.getLogger("auditpipe")


def ends_with_cut_line(path: str) -> bool:
    """Whether a regular file's last line has no newline: a write cut short by a crash.

    That batch was never acknowledged and is written again whole; a newline
    after the cut line keeps the next record on a line of its own.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
    except OSError:
        return False
    finally:
        os.close(fd)


def display(path: str) -> str:
    return "<stdout>" if path == STDOUT else path


def write_failed(path: str, exc: OSError) -> DeliveryError:
    """The error for a failed write: quiet for a broken pipe, else path and reason."""
    if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
        return OutputClosed(f"{display(path)}: the reader went away")
    return DeliveryError(f"{display(path)}: cannot write: {exc.strerror or exc}")


class _Writer:
    """One file (or standard output), opened on first use or at start."""

    def __init__(self, path: str, mode: str, fsync: bool = False) -> None:
        self.path = path
        self.mode = mode
        self.fsync = fsync
        self.stream: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        if self.stream is None:
            if self.path == STDOUT:
                if sys.stdout is None:
                    raise StartupError("standard output is closed: nothing can be written to `-`", retriable=False)
                self.stream = sys.stdout.buffer
            else:
                try:
                    self.stream = open(self.path, "ab" if self.mode == "append" else "wb")  # noqa: SIM115
                except OSError as exc:
                    raise StartupError(
                        f"{self.path}: cannot open for writing: {exc.strerror or exc}", retriable=False
                    ) from None
                if self.mode == "append" and ends_with_cut_line(self.path):
                    self.write(b"\n")
                    log.warning("The output ended with a cut line (a crash?); it was ended.", extra={"path": self.path})
        return self.stream

    def write(self, data: bytes) -> None:
        stream = self.open()
        try:
            stream.write(data)
            stream.flush()
            if self.fsync:
                os.fsync(stream.fileno())
        except OSError as exc:
            raise write_failed(self.path, exc) from None

    def close(self) -> None:
        stream, self.stream = self.stream, None
        if stream is None:
            return
        try:
            if self.path == STDOUT:
                stream.flush()
            else:
                stream.close()
        except OSError as exc:
            raise write_failed(self.path, exc) from None


class FileSink:
    """An output that appends JSON lines to a file or standard output (``-``)."""

    def __init__(self, name: str, path: str, mode: str = "append", fsync: bool = False) -> None:
        self.name = name
        self._writer = _Writer(path, mode, fsync and path != STDOUT)

    async def start(self) -> None:
        self._writer.open()

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        if records:  # one copy of the events (a last empty line gives the final newline)
            values = [r.value for r in records]
            values.append(b"")
            self._writer.write(b"\n".join(values))
        return settled([])

    async def close(self) -> None:
        self._writer.close()

    def health(self) -> Health:
        return READY


class RejectsFile:
    """Dead letters as the original records, one per line, unchanged: fix and replay.

    The file is created when the first rejected record arrives, so a run
    without rejects leaves nothing behind (and cannot clobber a file by
    mistake). Records that could not be kept (over the size limit) are only
    reported.
    """

    def __init__(self, path: str, mode: str = "truncate") -> None:
        self._writer = _Writer(path, mode)

    async def start(self) -> None:
        pass

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        kept = [d.rejection.raw + b"\n" for d in letters if d.rejection.raw]
        if kept:
            self._writer.write(b"".join(kept))
        return settled(None)

    async def close(self) -> None:
        self._writer.close()

    def health(self) -> Health:
        return READY
