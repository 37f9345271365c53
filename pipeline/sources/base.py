"""The source contract: batches of records, each batch with a position that is
acknowledged once everything it produced is durable.

A source never decides when to acknowledge: the runner does, through
``checkpoint.Checkpoints``, which releases a position only when the batch and
(for an ordered source) every batch before it are durable in every sink.

What the acknowledgement means is the source's own business:

=============  ==========================================================
source         position, and what acknowledging it does
=============  ==========================================================
Kafka          next offset per partition; committed to the group
file (once)    a line count; nothing to persist (the summary says where it got)
log tail       (inode, offset) per file; written to the checkpoint file
webhook        one HTTP request; answered 200 (a failure answers 503)
=============  ==========================================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import Rejection

if TYPE_CHECKING:
    from ..process import Batch

Headers = list[tuple[str, bytes]]


@dataclass(slots=True)
class SourceBatch:
    """Records read together, and how to acknowledge them.

    Attributes
    ----------
    values
        The records' bytes, one per Kafka message, line or request body.
    origins
        Where each record came from (``file:line``, ``topic/partition/offset``),
        shown in errors and in the ``source`` annotation.
    position
        What the source acknowledges once the batch is durable; opaque to the
        runner. None: nothing to acknowledge.
    keys, headers
        Per-record Kafka key and headers, kept on dead letters.
    errors
        Records the source itself could not read (a line over the size limit,
        a broken stream): dead-lettered like decode errors.
    on_processed
        Called with the processing result before delivery starts (the webhook
        uses it to answer 400 for a body with nothing in it but errors).
    """

    values: list[bytes]
    origins: list[str]
    position: object | None = None
    keys: list[bytes | None] | None = None
    headers: list[Headers] | None = None
    errors: list[Rejection] = field(default_factory=list)
    on_processed: Callable[[Batch], None] | None = None


@dataclass(frozen=True, slots=True)
class Health:
    """Whether a component can do its job now, and if not, why."""

    ready: bool
    reason: str = ""


READY = Health(True)

# Drains everything in flight for this source (delivers, acknowledges); the
# Kafka source calls it before it gives partitions up in a rebalance.
Drain = Callable[[], Awaitable[None]]


class Source(Protocol):
    """A component records come from. ``ordered`` sources have their
    positions acknowledged in the order the batches were read; unordered
    ones (independent webhook requests) each as soon as it is durable."""

    name: str
    ordered: bool

    async def start(self, drain: Drain) -> None:
        """Connect and get ready. May raise ``errors.StartupError``."""

    def batches(self) -> AsyncIterator[SourceBatch]:
        """Batches until the source is exhausted or ``stop`` is called."""

    async def acknowledge(self, positions: list[object]) -> None:
        """Make these positions (oldest first) durable at the source."""

    async def fail(self, position: object, reason: str) -> None:
        """The batch at ``position`` will not be delivered (the runner is stopping)."""

    def request_stop(self) -> None:
        """Stop producing batches soon; ``batches`` then ends."""

    async def close(self) -> None:
        """Release everything (after the last acknowledgement)."""

    def health(self) -> Health:
        """Ready to read?"""
