"""What an EventList receiver accepts, checked before sending, and the packing
of events into EventList bodies. Pure functions, no I/O.

Falco's k8saudit webhook answers 200 *before* it parses a body, then drops,
with only a line in its own log, every event whose ``stageTimestamp`` is
missing or is not a Go ``time.RFC3339Nano`` time, and every event whose
re-marshalled JSON is over its ``maxEventSize``. The sender never hears of it.
So the HTTP sink checks both rules itself and turns such events into dead
letters with a reason: nothing vanishes.

The size rule is checked on our own encoding of the event. Falco re-marshals
the parsed event with raw strings copied verbatim and whitespace dropped, so
its count is never larger than ours: an event we let through is never over
Falco's limit (one we refuse might, if its bodies carried whitespace, have
squeezed in).

The timestamp rule follows Go's RFC 3339 grammar as its ``time.Parse`` fast
path reads it (``2006-01-02T15:04:05[.fraction](Z|±hh:mm)``, every field in
range, the day valid for its month). Go's general parser, which it falls back
to, also takes a few sloppier spellings (a one-digit hour, a comma before the
fraction, an offset of 24 hours or 60 minutes); those are refused here, which costs a dead
letter, never a silent drop. tests/test_eventlists.py holds this function to
Go's own ``time.Parse`` on a table of spellings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from ..errors import ReasonCode

EVENTLIST_HEAD = b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":['
EVENTLIST_TAIL = b"]}"
EVENTLIST_OVERHEAD = len(EVENTLIST_HEAD) + len(EVENTLIST_TAIL)


class _StageTimestamp(msgspec.Struct):
    stageTimestamp: msgspec.Raw = msgspec.Raw(b"")


_decode_stamp = msgspec.json.Decoder(_StageTimestamp).decode
_decode_str = msgspec.json.Decoder(str).decode


@dataclass(frozen=True, slots=True)
class ReceiverRules:
    """The receiver's limits (Falco's ``webhookMaxBatchSize`` and ``maxEventSize``)."""

    max_batch_bytes: int
    max_event_bytes: int
    require_stage_timestamp: bool = True


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the receiver would not keep an event: a dead letter's code, message and JSON path."""

    code: ReasonCode
    message: str
    path: str


# Go's RFC 3339 grammar: 2006-01-02T15:04:05[.fraction](Z|+hh:mm|-hh:mm), ASCII digits only.
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?(?:Z|[+-]([0-9]{2}):([0-9]{2}))"
)
_DAYS_IN_MONTH = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Dates already judged (a stream's events share a few days): "2026-11-27" -> problem or "".
_dates: dict[str, str] = {}
_DATES_MAX = 4096


def _date_problem(year: int, month: int, day: int) -> str:
    if not 1 <= month <= 12:
        return f"month {month} out of range"
    days = _DAYS_IN_MONTH[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days = 29  # Go's calendar is proleptic Gregorian: year 0 is a leap year too
    if not 1 <= day <= days:
        return f"day {day} out of range for {year:04d}-{month:02d}"
    return ""


def rfc3339_problem(text: str) -> str | None:
    """Why Go's ``time.Parse(time.RFC3339Nano, text)`` would refuse ``text``; None if it accepts it.

    Parameters
    ----------
    text
        The timestamp, as a string.

    Returns
    -------
    str or None
        A short reason, or None for a valid time.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return "not an RFC 3339 time (2006-01-02T15:04:05.999999999Z07:00)"
    date = text[:10]
    problem = _dates.get(date)
    if problem is None:
        if len(_dates) >= _DATES_MAX:
            _dates.clear()  # bounded, whatever the input
        problem = _dates[date] = _date_problem(int(match[1]), int(match[2]), int(match[3]))
    if problem:
        return problem
    # Two ASCII digits each: comparing the strings compares the numbers.
    if match[4] > "23" or match[5] > "59" or match[6] > "59":
        return "hour, minute or second out of range"
    if match[7] is not None and (match[7] > "23" or match[8] > "59"):
        return f"zone offset {match[7]}:{match[8]} out of range"
    return None


def stage_timestamp_problem(value: bytes) -> str | None:
    """Why Falco would drop the event ``value`` for its ``stageTimestamp``; None if it keeps it."""
    try:
        raw = _decode_stamp(value).stageTimestamp
    except msgspec.DecodeError as exc:  # never for our own encoding; stated rather than assumed
        return f"the event is not a JSON object ({exc})"
    if not raw:
        return "no stageTimestamp: the receiver drops events without one"
    try:
        text = _decode_str(raw)
    except msgspec.DecodeError:
        return f"stageTimestamp is {bytes(raw)[:40].decode('utf-8', 'replace')}, not a time string"
    problem = rfc3339_problem(text)
    if problem is not None:
        return f"stageTimestamp {text[:64]!r} is not an RFC 3339 time the receiver can read: {problem}"
    return None


def refusal(value: bytes, rules: ReceiverRules) -> Refusal | None:
    """Why the receiver would drop or refuse the encoded event ``value``; None if it would keep it."""
    size = len(value)
    if size > rules.max_event_bytes:
        return Refusal(
            ReasonCode.TOO_LARGE,
            f"event of {size} bytes is over the receiver's max_event_bytes ({rules.max_event_bytes}): "
            "it would be dropped after a 200",
            "$",
        )
    if size + EVENTLIST_OVERHEAD > rules.max_batch_bytes:
        return Refusal(
            ReasonCode.TOO_LARGE,
            f"event of {size} bytes does not fit in a request of max_batch_bytes ({rules.max_batch_bytes})",
            "$",
        )
    if rules.require_stage_timestamp:
        problem = stage_timestamp_problem(value)
        if problem is not None:
            code = ReasonCode.MISSING_FIELD if problem.startswith("no ") else ReasonCode.INVALID_VALUE
            return Refusal(code, problem, "$.stageTimestamp")
    return None


def split(sizes: Sequence[int], max_batch_bytes: int) -> list[range]:
    """Consecutive groups of events whose EventList body fits in ``max_batch_bytes``.

    Every size must fit alone (``refusal`` guarantees it); groups keep the
    input order.
    """
    groups: list[range] = []
    start, used = 0, EVENTLIST_OVERHEAD
    for i, size in enumerate(sizes):
        extra = size + (1 if i > start else 0)  # the comma between items
        if i > start and used + extra > max_batch_bytes:
            groups.append(range(start, i))
            start, used, extra = i, EVENTLIST_OVERHEAD, size
        used += extra
    if start < len(sizes):
        groups.append(range(start, len(sizes)))
    return groups


def event_list(values: Sequence[bytes]) -> bytes:
    """The ``audit.k8s.io/v1`` EventList holding these encoded events, in order."""
    return EVENTLIST_HEAD + b",".join(values) + EVENTLIST_TAIL
