"""Pacing a stream of events to a steady rate, by a schedule on the monotonic clock.

Event ``k`` (counted from 0) is due at ``start + k / rate``. Computing each due
time from the count, rather than adding ``1 / rate`` to the last one, keeps the
rate exact over any number of events: there is no error to accumulate. A caller
that falls behind (a slow sink, a stopped terminal) sends what is due at once,
but never more than ``max_lag`` seconds' worth: past that the schedule restarts
from the present, so a stall is not followed by a burst of thousands of events.
"""

from __future__ import annotations

__all__ = ["RateSchedule"]


class RateSchedule:
    """When the next event may go out, for ``rate`` events per second.

    Parameters
    ----------
    rate : float
        Events per second; must be > 0.
    max_lag : float
        How far behind the schedule may fall (in seconds) and still be caught up
        by sending at once; beyond that the schedule restarts from the present.

    Notes
    -----
    The clock is passed in (:func:`time.monotonic` in use, a fake one in tests),
    so the schedule is a pure function of the times it is asked at.
    """

    __slots__ = ("_released", "_start", "max_lag", "rate")

    def __init__(self, rate: float, max_lag: float = 1.0) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if max_lag < 0:
            raise ValueError(f"max_lag must be >= 0, got {max_lag}")
        self.rate = float(rate)
        self.max_lag = float(max_lag)
        self._start: float | None = None
        self._released = 0

    @property
    def released(self) -> int:
        """Events released since the schedule (re)started."""
        return self._released

    def delay(self, now: float) -> float:
        """Seconds to wait before the next event, asked at clock time ``now``.

        Parameters
        ----------
        now : float
            The current clock reading, in seconds.

        Returns
        -------
        float
            ``0.0`` when the next event is due: it counts as sent. Otherwise the
            seconds until it is due; nothing is counted, and the caller asks again
            after waiting.
        """
        if self._start is None:
            self._start = now
        due = self._start + self._released / self.rate
        if now < due:
            return due - now
        if now - due > self.max_lag:  # too far behind to catch up without a burst: restart from now
            self._start = now
            self._released = 0
        self._released += 1
        return 0.0
