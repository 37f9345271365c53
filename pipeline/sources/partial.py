"""Join CRI partial lines back into one record.

A container runtime splits a log line longer than its limit (16 KiB for
containerd and CRI-O) into fragments tagged ``P`` (partial), the last one
``F`` (full). Fluent Bit's ``multiline.parser cri`` joins them; without it,
each fragment is its own record (``{"time", "stream", "_p": "P", "log"}``, or
``logtag`` and ``message`` from the classic ``cri`` parser), none of which is
an event alone. This joiner holds the fragments of each stream and emits one
record, the final fragment's with the joined text, when the ``F`` arrives.

It is pure and keyed by the caller's partition, so a source can keep its
acknowledgements honest: ``held(partition)`` gives the offset of the first
fragment still held, and a source must not acknowledge past it (a restart
reads the fragments again and joins them then).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field

import msgspec
from msgspec import Raw

from ..model import decode_fields, decode_str, encode

SNIFF_BYTES = 512
_PARTIAL_MARK = re.compile(rb'"(?:_p|logtag)"\s*:\s*"P"')
_TAG_KEYS = ("_p", "logtag")
_TEXT_KEYS = ("log", "message")
_IDENTITY_KEYS = ("stream", "kubernetes", "container_id", "docker_id")


@dataclass(slots=True)
class Joined:
    """A record to hand on: a joined line, or an ordinary record passed through."""

    value: bytes
    origin: str
    offset: int  # the first fragment's offset: the record's position


@dataclass(slots=True)
class _Held:
    origin: str
    offset: int
    size: int = 0
    pieces: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TooLong:
    """Fragments that joined would pass the size limit: reported, not held."""

    origin: str
    offset: int
    size: int


def _fields(value: bytes) -> dict[str, Raw] | None:
    try:
        return decode_fields(value)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def _tag_and_text(fields: dict[str, Raw]) -> tuple[str, str, str] | None:
    """(tag key, tag, text key) of a container-log record, or None."""
    for tag_key in _TAG_KEYS:
        if tag_key in fields:
            try:
                tag = decode_str(fields[tag_key])
            except msgspec.ValidationError:
                return None
            for text_key in _TEXT_KEYS:
                if text_key in fields:
                    return tag_key, tag, text_key
    return None


def _identity(fields: dict[str, Raw]) -> bytes:
    return b"\0".join(bytes(fields[k]) for k in _IDENTITY_KEYS if k in fields)


class PartialJoiner:
    """Fragments held per (partition, stream); ``max_bytes`` bounds what is held."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._held: dict[tuple[Hashable, bytes], _Held] = {}

    def held(self, partition: Hashable) -> int | None:
        """Offset of the oldest fragment still held for ``partition`` (None: nothing held)."""
        offsets = [h.offset for (p, _), h in self._held.items() if p == partition]
        return min(offsets) if offsets else None

    def drop(self, partition: Hashable) -> None:
        """Forget what is held for ``partition`` (given up in a rebalance: its
        next owner reads the fragments again, from the uncommitted offset)."""
        for key in [k for k in self._held if k[0] == partition]:
            del self._held[key]

    def passes(self, value: bytes) -> bool:
        """True when ``value`` cannot be a fragment and nothing is held: hand it on as it is.

        The common case, decided without the pattern: a partial tag needs a ``"P"``.
        """
        return not self._held and value.find(b'"P"', 0, SNIFF_BYTES) < 0

    def feed(self, partition: Hashable, value: bytes, origin: str, offset: int) -> Joined | TooLong | None:
        """Take one record; returns what to hand on now (None while fragments are held)."""
        partial = _PARTIAL_MARK.search(value, 0, SNIFF_BYTES) is not None
        if not partial and not self._held:
            return Joined(value, origin, offset)
        fields = _fields(value) if (partial or self._held) else None
        shape = None if fields is None else _tag_and_text(fields)
        if fields is None or shape is None:
            return Joined(value, origin, offset)
        tag_key, tag, text_key = shape
        key = (partition, _identity(fields))
        held = self._held.get(key)
        if held is None and tag != "P":
            return Joined(value, origin, offset)
        try:
            text = decode_str(fields[text_key])
        except msgspec.ValidationError:
            return Joined(value, origin, offset)
        if held is None:
            held = self._held[key] = _Held(origin, offset)
        held.pieces.append(text)
        held.size += len(text)
        if held.size > self._max:
            del self._held[key]
            return TooLong(held.origin, held.offset, held.size)
        if tag == "P":
            return None
        del self._held[key]
        fields[text_key] = Raw(encode("".join(held.pieces)))
        fields[tag_key] = Raw(b'"F"')
        return Joined(encode(fields), held.origin, held.offset)
