"""The event stream: the category mix, the simulated clock, and the stages of each request.

Each draw of the stream emits exactly one event: either a new request of the
drawn category, or the pending completion of an earlier request of that category
once its time has come. So the :data:`MIX` shares hold for any window of a few
thousand events, and ``(auditID, stage)`` is unique while ``auditID`` alone is not.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections.abc import Iterator
from typing import Final

from .categories import REQUEST_BUILDERS, exec_sessions, watches
from .request import COMPLETE, RECEIVED, render
from .shapes import uuid4
from .vocabulary import EPOCH_US
from .world import World

__all__ = ["MIX", "iter_events", "make_events"]

MIX: Final[dict[str, float]] = {
    "lease": 0.29,
    "controller_read": 0.17,
    "nonresource": 0.12,
    "watch": 0.08,
    "secret_configmap": 0.08,
    "event_create": 0.07,
    "node_status": 0.06,
    "pod_write": 0.06,
    "failed": 0.05,
    "impersonated": 0.01,
    "large": 0.006,
    "exec": 0.004,
}

MEAN_GAP_US: Final = 1_000.0  # ~1,000 events/s: a busy cluster's audit log
P_REQUEST_RECEIVED: Final = 0.04
# The categories whose requests are sometimes logged at RequestReceived first.
PAIRED: Final = frozenset({"lease", "controller_read", "secret_configmap", "event_create", "node_status", "pod_write"})

# A completion waiting for its time: (due µs, push order, event line).
_Pending = list[tuple[int, int, bytes]]


class _Emitter:
    """Turns (category, clock) draws into event lines, holding the completions still to come."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.rng = world.rng
        self.pending: dict[str, _Pending] = {name: [] for name in MIX}
        self.order = itertools.count()  # breaks ties between completions due at the same µs

    def emit(self, category: str, now: int) -> bytes:
        """One event of ``category`` at clock ``now`` (µs since the epoch)."""
        queue = self.pending[category]
        if queue and queue[0][0] <= now:  # a started request of this category is due to complete
            return heapq.heappop(queue)[2]
        if category == "watch":
            return watches.build(self.world, now)
        if category == "exec":
            started, ended, complete = exec_sessions.build(self.world, now)
            heapq.heappush(queue, (ended, next(self.order), complete))
            return started
        request = REQUEST_BUILDERS[category](self.world, now)
        audit_id = uuid4(self.rng)
        if category in PAIRED and self.rng.random() < P_REQUEST_RECEIVED:
            done = now + request.latency_us
            complete = render(request, audit_id, COMPLETE, now, done)
            heapq.heappush(queue, (done, next(self.order), complete))
            return render(request, audit_id, RECEIVED, now, now)
        return render(request, audit_id, COMPLETE, now - request.latency_us, now)


def iter_events(seed: int = 0) -> Iterator[bytes]:
    """An endless, deterministic stream of audit event lines with the :data:`MIX` proportions.

    Parameters
    ----------
    seed : int
        Seeds the one RNG that builds the cluster and draws every event.

    Yields
    ------
    bytes
        One ``audit.k8s.io/v1`` Event as kube-apiserver's log backend writes it,
        without the trailing newline. The same seed always gives the same bytes.
    """
    rng = random.Random(seed)
    emitter = _Emitter(World(rng))
    names = tuple(MIX)
    cumulative = tuple(itertools.accumulate(MIX.values()))
    last = len(names) - 1
    now = EPOCH_US
    while True:
        now += 1 + int(rng.expovariate(1.0 / MEAN_GAP_US))
        index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        yield emitter.emit(names[min(index, last)], now)


def make_events(n: int, seed: int = 0) -> list[bytes]:
    """The first ``n`` events of ``iter_events(seed)``.

    Parameters
    ----------
    n : int
        How many events; must be >= 0.
    seed : int
        As for :func:`iter_events`.

    Returns
    -------
    list of bytes
        The event lines, without newlines.

    Raises
    ------
    ValueError
        If ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return list(itertools.islice(iter_events(seed), n))
