"""The acknowledgement rule, as a pure object: a source position may be
acknowledged only when its batch is durable in every sink and, for an
ordered source, so is every batch read before it.

The runner calls ``begin`` when it hands a batch to the sinks, then
``durable`` or ``failed`` when the batch's deliveries settle, and
acknowledges at the source whatever ``durable`` releases. Because it does no
I/O, the rule is tested on its own with fakes (ordering, partial failure,
shutdown) in tests/test_checkpoint.py.

Why order matters: a Kafka offset or a file offset acknowledges everything
before it. If batch 2 were committed while batch 1 was still on its way, a
crash would lose batch 1. A webhook request acknowledges only itself, so
webhook sources are unordered and each request is answered when it is done.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

P = TypeVar("P")

_PENDING, _DURABLE, _FAILED = 0, 1, 2


class Checkpoints(Generic[P]):
    """Batches on their way, and which of their positions may be acknowledged."""

    __slots__ = ("_batches", "_next", "ordered")

    def __init__(self, ordered: bool) -> None:
        self.ordered = ordered
        self._next = 0
        # ticket -> [state, position], oldest first (insertion order).
        self._batches: OrderedDict[int, list[object]] = OrderedDict()

    def begin(self, position: P | None) -> int:
        """Register a batch handed to the sinks; returns its ticket."""
        ticket = self._next
        self._next += 1
        self._batches[ticket] = [_PENDING, position]
        return ticket

    def durable(self, ticket: int) -> list[P]:
        """The batch is durable everywhere; returns the positions to acknowledge now, oldest first.

        An ordered source gets every position up to the first batch that is
        still pending or has failed; an unordered one gets this batch's own.
        Batches without a position are settled but release nothing.
        """
        entry = self._batches[ticket]
        entry[0] = _DURABLE
        if not self.ordered:
            del self._batches[ticket]
            return [] if entry[1] is None else [entry[1]]  # type: ignore[list-item]
        released: list[P] = []
        while self._batches:
            head_ticket, (state, position) = next(iter(self._batches.items()))
            if state != _DURABLE:
                break
            del self._batches[head_ticket]
            if position is not None:
                released.append(position)  # type: ignore[arg-type]
        return released

    def failed(self, ticket: int) -> P | None:
        """The batch will never be durable. Returns its position (to fail at the source).

        For an ordered source nothing at or after it is released any more:
        acknowledging a later position would acknowledge this one too.
        """
        entry = self._batches[ticket]
        entry[0] = _FAILED
        if not self.ordered:
            del self._batches[ticket]
        return entry[1]  # type: ignore[return-value]

    @property
    def in_flight(self) -> int:
        """Batches registered and not released (pending, failed, or durable behind those)."""
        return len(self._batches)

    @property
    def blocked(self) -> bool:
        """True when an ordered source can release nothing more (a batch failed)."""
        return any(entry[0] == _FAILED for entry in self._batches.values())

    def unreleased(self) -> list[P]:
        """Positions never released, oldest first (for a shutdown report or to fail them)."""
        return [entry[1] for entry in self._batches.values() if entry[1] is not None]  # type: ignore[misc]
