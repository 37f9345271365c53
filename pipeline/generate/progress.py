"""What a ``generate`` run has done so far, and the request to stop it (Ctrl-C)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["Progress", "StopRequest"]


@dataclass(slots=True)
class StopRequest:
    """Set by the SIGINT handler; the loops look at it between two events, so no record is cut."""

    requested: bool = False

    def request(self) -> None:
        """Ask the run to stop after the event in hand."""
        self.requested = True


@dataclass(slots=True)
class Progress:
    """Counters of one run.

    ``events`` counts generated events handed to the output, ``records`` the
    records written or sent (lines, envelopes, EventLists), ``bytes`` their size.
    For Kafka, ``delivered_*`` count what the broker acknowledged.
    """

    started: float = field(default_factory=time.perf_counter)
    events: int = 0
    records: int = 0
    bytes: int = 0
    delivered_records: int = 0
    delivered_events: int = 0

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.perf_counter() - self.started

    def describe(self) -> str:
        """``N events (M MB) in S s (R events/s, T MB/s)``, for the summary line."""
        seconds = self.elapsed()
        rate = self.events / seconds if seconds > 0 else 0.0
        throughput = self.bytes / seconds / 1e6 if seconds > 0 else 0.0
        return (
            f"{self.events:,} events ({self.bytes / 1e6:,.1f} MB) in {seconds:.2f} s "
            f"({rate:,.0f} events/s, {throughput:,.1f} MB/s)"
        )
