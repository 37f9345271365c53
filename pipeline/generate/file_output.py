"""Writing generated records to a file or stdout, one per line, paced or as fast as possible."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import BinaryIO, Final

from .framing import Framer, Record
from .pacing import RateSchedule
from .progress import Progress, StopRequest

__all__ = ["BATCH_MAX_WAIT_S", "MAX_SLEEP_S", "write_records"]

# A partial EventList goes out once its oldest event has waited this long (paced runs only: at full
# speed lists fill in milliseconds). kube-apiserver's own webhook batches wait up to 30 s.
BATCH_MAX_WAIT_S: Final = 1.0
# Waits are cut into slices of at most this, so a Ctrl-C during a slow rate is seen at once.
MAX_SLEEP_S: Final = 0.2


def write_records(
    lines: Iterable[bytes],
    out: BinaryIO,
    framer: Framer,
    schedule: RateSchedule | None,
    progress: Progress,
    stop: StopRequest,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Frame each event of ``lines`` and write the records to ``out``, one per line.

    Parameters
    ----------
    lines : iterable of bytes
        The event lines (already cut to the wanted count).
    out : binary file
        Where records go; flushed before every wait and at the end.
    framer : Framer
        The output shape.
    schedule : RateSchedule or None
        The pace; None writes as fast as possible.
    progress : Progress
        Counters, updated as records are written.
    stop : StopRequest
        Looked at between events; once set, what is held back is written and the loop ends.
    clock, sleep : callables
        The monotonic clock and the sleep used for pacing (fakes in tests).

    Raises
    ------
    OSError
        From ``out`` (BrokenPipeError when the reader of a pipe goes away).
    """
    write = out.write
    pending_since = 0.0

    def emit(records: Sequence[Record]) -> None:
        for value, _ in records:
            write(value)
            write(b"\n")
            progress.records += 1
            progress.bytes += len(value) + 1

    for line in lines:
        if stop.requested:
            break
        if schedule is not None:
            wait = schedule.delay(clock())
            while wait > 0:
                if framer.pending and clock() - pending_since >= BATCH_MAX_WAIT_S:
                    emit(framer.flush())
                out.flush()  # a paced stream is read as it comes: nothing may sit in the buffer
                sleep(min(wait, MAX_SLEEP_S))
                if stop.requested:
                    break
                wait = schedule.delay(clock())
            if wait > 0:  # stopped while waiting: this event was never due
                break
        emit(framer.add(line))
        progress.events += 1
        if schedule is not None and framer.pending == 1:
            pending_since = clock()
    emit(framer.flush())
    out.flush()
