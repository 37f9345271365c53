"""The shapes generated events are written in: raw lines, Fluent Bit envelopes, webhook EventLists.

* ``raw``: the event line exactly as kube-apiserver's log backend writes it
  (Fluent Bit ``out_kafka`` with ``format raw``).
* ``fluent-bit``: ``{"@timestamp":<float>,"log":"<line>"}``, what Fluent Bit's
  tail input without a parser sends with ``out_kafka`` defaults: the line as a
  JSON string escaped as Fluent Bit escapes it (every non-ASCII character as
  lower-case ``\\uXXXX``, ``/`` left alone), and the timestamp printed with
  ``%.16g``. The timestamp is the event's ``stageTimestamp`` (Fluent Bit's is the
  time it read the line, which in a simulation is when the line was written), so
  the output stays a pure function of the seed.
* ``eventlist``: ``{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[...]}``
  as the audit webhook POSTs it; the items carry no ``kind``/``apiVersion``.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Sequence
from functools import lru_cache
from json.encoder import encode_basestring_ascii
from typing import Final

__all__ = ["SHAPES", "EventListBatcher", "Framer", "Record", "audit_id", "fluent_bit_envelope"]

SHAPES: Final = ("raw", "fluent-bit", "eventlist")

# Every generated line starts with the Event's type meta; EventList items drop it.
EVENT_PREFIX: Final = b'{"kind":"Event","apiVersion":"audit.k8s.io/v1",'
EVENT_LIST_HEAD: Final = b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":['
EVENT_LIST_TAIL: Final = b"]}"

_AUDIT_ID_KEY: Final = b'"auditID":"'
_STAGE_TIMESTAMP_KEY: Final = b'"stageTimestamp":"'
# An output record: (value, how many events it holds).
Record = tuple[bytes, int]
_NOTHING: Final[tuple[Record, ...]] = ()


def audit_id(line: bytes) -> bytes:
    """The ``auditID`` of a generated event line (the Kafka message key).

    It sits near the start of the line, after ``level``, so finding it costs a
    few dozen bytes of scanning whatever the size of the event.
    """
    start = line.index(_AUDIT_ID_KEY) + len(_AUDIT_ID_KEY)
    return line[start : line.index(b'"', start)]


@lru_cache(maxsize=4096)
def _epoch_second(text: bytes) -> int:
    return calendar.timegm(time.strptime(text.decode(), "%Y-%m-%dT%H:%M:%S"))


def _fluent_bit_double(line: bytes) -> bytes:
    # stageTimestamp is the last timestamp of the event, after any body: search from the end. No JSON
    # string can contain the key with its unescaped quotes, so the last match is the top-level field.
    at = line.rindex(_STAGE_TIMESTAMP_KEY) + len(_STAGE_TIMESTAMP_KEY)
    seconds = _epoch_second(line[at : at + 19]) + int(line[at + 20 : at + 26]) / 1_000_000
    text = b"%.16g" % seconds
    return text if b"." in text or b"e" in text else text + b".0"  # Fluent Bit prints whole seconds as N.0


def fluent_bit_envelope(line: bytes) -> bytes:
    """``line`` inside the envelope Fluent Bit's tail input (no parser) sends to Kafka."""
    escaped = encode_basestring_ascii(line.decode())
    if "\x7f" in escaped:  # Fluent Bit escapes DEL too; Python's JSON encoder does not
        escaped = escaped.replace("\x7f", "\\u007f")
    return b'{"@timestamp":' + _fluent_bit_double(line) + b',"log":' + escaped.encode("ascii") + b"}"


class EventListBatcher:
    """Collects event lines into webhook EventLists of at most ``max_events`` events and ``max_bytes`` bytes.

    Parameters
    ----------
    max_events : int
        Events per list (kube-apiserver's ``--audit-webhook-batch-max-size`` is 400).
    max_bytes : int or None
        Largest list in bytes (for Kafka's message size limit); a list is closed
        early rather than grow past it. A single event larger than this still
        makes a list of its own: the caller decides what to do with it.
    """

    __slots__ = ("_events", "_parts", "_size", "max_bytes", "max_events")

    def __init__(self, max_events: int, max_bytes: int | None = None) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._parts: list[bytes | memoryview] = []
        self._events = 0
        self._size = 0

    @property
    def pending(self) -> int:
        """Events waiting in the list being built."""
        return self._events

    def add(self, line: bytes) -> Sequence[Record]:
        """Add one event line; return the list it closed, if any (full by count, or by size)."""
        if not line.startswith(EVENT_PREFIX):
            raise ValueError("not a generated audit.k8s.io/v1 Event line")
        item = memoryview(line)[len(EVENT_PREFIX) :]  # "{" is written separately: no copy of the event
        item_size = len(item) + 1
        # Only one list can close per event: a list closed for size leaves this event alone in the
        # next one, which a count limit of 1 would already have closed on the previous add.
        closed: Sequence[Record] = _NOTHING
        if (
            self.max_bytes is not None
            and self._events
            and self._list_size(self._size + item_size, self._events + 1) > self.max_bytes
        ):
            closed = (self._close(),)
        self._parts += (b",{" if self._events else b"{", item)
        self._events += 1
        self._size += item_size
        if self._events >= self.max_events:
            closed = (self._close(),)
        return closed

    def flush(self) -> Sequence[Record]:
        """The list being built, if it holds any event."""
        return (self._close(),) if self._events else _NOTHING

    @staticmethod
    def _list_size(items_size: int, events: int) -> int:
        # The head, the items (each with its "{"), a comma between two items, the tail.
        return len(EVENT_LIST_HEAD) + items_size + events - 1 + len(EVENT_LIST_TAIL)

    def _close(self) -> Record:
        record = (b"".join((EVENT_LIST_HEAD, *self._parts, EVENT_LIST_TAIL)), self._events)
        self._parts.clear()
        self._events = 0
        self._size = 0
        return record


class Framer:
    """Turns event lines into output records of one shape (see the module docstring).

    Parameters
    ----------
    shape : str
        One of :data:`SHAPES`.
    batch : int
        Events per EventList (``eventlist`` only).
    max_bytes : int or None
        Largest EventList in bytes (``eventlist`` only).
    """

    __slots__ = ("_batcher", "per_event", "shape")

    def __init__(self, shape: str, batch: int = 400, max_bytes: int | None = None) -> None:
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r} (want one of {', '.join(SHAPES)})")
        self.shape = shape
        # raw and fluent-bit records hold one event each, so they can be keyed by its auditID.
        self.per_event = shape != "eventlist"
        self._batcher = EventListBatcher(batch, max_bytes) if shape == "eventlist" else None

    @property
    def pending(self) -> int:
        """Events added but not yet in a returned record."""
        return self._batcher.pending if self._batcher is not None else 0

    def add(self, line: bytes) -> Sequence[Record]:
        """The records that are complete once ``line`` is added."""
        if self._batcher is not None:
            return self._batcher.add(line)
        if self.shape == "raw":
            return ((line, 1),)
        return ((fluent_bit_envelope(line), 1),)

    def flush(self) -> Sequence[Record]:
        """Records still held back (a partial EventList)."""
        return self._batcher.flush() if self._batcher is not None else _NOTHING
