"""The receiver rules the HTTP sink checks before sending (Falco's), held to
Go's own ``time.Parse``, and the packing of events into EventList bodies."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import ReasonCode
from pipeline.sinks.eventlists import (
    EVENTLIST_OVERHEAD,
    ReceiverRules,
    event_list,
    refusal,
    rfc3339_problem,
    split,
    stage_timestamp_problem,
)

from .helpers import event, line

# Spellings both Go and auditpipe accept.
VALID = [
    "2026-11-27T10:00:01.627999Z",
    "2026-11-27T10:00:01Z",
    "2026-11-27T10:00:01.1Z",
    "2026-11-27T10:00:01.123456789Z",
    "2026-11-27T10:00:01.1234567891234Z",  # more than 9 digits: Go truncates
    "2026-11-27T10:00:01.5+02:00",
    "2026-11-27T10:00:01-07:30",
    "2026-11-27T23:59:59+23:59",
    "2024-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z",
    "0000-02-29T00:00:00Z",  # Go's year 0 is a leap year
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2018-10-25T13:58:49Z",
]
# Spellings both refuse.
INVALID = [
    "",
    "2026-11-27",
    "2026-11-27T10:00:01",
    "2026-11-27 10:00:01Z",
    "2026-11-27t10:00:01Z",
    "2026-11-27T10:00:01z",
    "2026-11-27T10:00:01.Z",
    "2026-11-27T10:00:01.123",
    "2026-11-27T10:00:60Z",
    "2026-11-27T10:60:01Z",
    "2026-11-27T25:00:01Z",
    "2026-13-27T10:00:01Z",
    "2026-00-27T10:00:01Z",
    "2026-11-00T10:00:01Z",
    "2026-11-31T10:00:01Z",
    "2023-02-29T10:00:01Z",
    "1900-02-29T10:00:01Z",
    "26-11-27T10:00:01Z",
    "+2026-11-27T10:00:01Z",
    "2026-11-27T10:00:01+0200",
    "2026-11-27T10:00:01+02",
    "2026-11-27T10:00:01 +02:00",
    "2026-11-27T10:00:01+25:00",
    "2026-11-27T10:00:01Z ",
    " 2026-11-27T10:00:01Z",
    "2026-11-27T10:00:01ZZ",
    "2026-1a-27T10:00:01Z",
    "２０２６-11-27T10:00:01Z",  # fullwidth digits
    "2026-11-27T10:00:01.٣Z",  # an Arabic-Indic digit
    "1700000000",
    "null",
]
# Spellings only Go's general parser (its fallback) accepts: auditpipe refuses
# them, which costs a dead letter, never an event Falco would drop.
GO_ONLY = [
    "2026-11-27T1:00:01Z",  # a one-digit hour
    "2026-11-27T10:00:01,5Z",  # a comma before the fraction
    "2026-11-27T10:00:01+24:00",  # an offset hour of 24
    "2026-11-27T10:00:01+02:60",  # an offset minute of 60
]


@pytest.mark.parametrize("text", VALID)
def test_valid_times(text: str) -> None:
    assert rfc3339_problem(text) is None


@pytest.mark.parametrize("text", INVALID + GO_ONLY)
def test_refused_times(text: str) -> None:
    assert rfc3339_problem(text) is not None


def test_held_to_go_time_parse(go_time_parse: Path) -> None:
    """Go's own answers: the same for VALID and INVALID; for GO_ONLY, Go accepts what we refuse."""
    cases = VALID + INVALID + GO_ONLY
    assert all("\n" not in c for c in cases)
    result = subprocess.run(
        [str(go_time_parse)], input="\n".join(cases) + "\n", capture_output=True, text=True, timeout=60, check=True
    )
    go = dict(zip(cases, result.stdout.split()))
    assert len(go) == len(cases)
    assert [c for c in VALID if go[c] != "ok"] == []
    assert [c for c in INVALID if go[c] != "err"] == []
    assert [c for c in GO_ONLY if go[c] != "ok"] == []


RULES = ReceiverRules(max_batch_bytes=12 * 1024 * 1024, max_event_bytes=256 * 1024)


def test_stage_timestamp_checks() -> None:
    assert stage_timestamp_problem(line(event())) is None
    assert "no stageTimestamp" in (stage_timestamp_problem(line(event(stageTimestamp=None))) or "")
    null = line(event(stageTimestamp=None))[:-1] + b',"stageTimestamp":null}'
    assert "null, not a time string" in (stage_timestamp_problem(null) or "")
    assert "not an RFC 3339 time" in (stage_timestamp_problem(line(event(stageTimestamp="2018-10-25"))) or "")
    # Only the top-level field counts, not one inside a body.
    nested = event(stageTimestamp=None, requestObject={"stageTimestamp": "2026-11-27T10:00:01Z"})
    assert stage_timestamp_problem(line(nested)) is not None


def test_refusal_codes_and_paths() -> None:
    assert refusal(line(event()), RULES) is None
    missing = refusal(line(event(stageTimestamp=None)), RULES)
    assert missing is not None and (missing.code, missing.path) == (ReasonCode.MISSING_FIELD, "$.stageTimestamp")
    bad = refusal(line(event(stageTimestamp="yesterday")), RULES)
    assert bad is not None and (bad.code, bad.path) == (ReasonCode.INVALID_VALUE, "$.stageTimestamp")
    big = line(event(requestObject={"data": "x" * 300_000}))
    too_large = refusal(big, RULES)
    assert too_large is not None and too_large.code == ReasonCode.TOO_LARGE and str(len(big)) in too_large.message
    exactly = line(event())
    assert refusal(exactly, ReceiverRules(10**6, len(exactly))) is None
    assert refusal(exactly, ReceiverRules(10**6, len(exactly) - 1)) is not None
    # An event within max_event_bytes that cannot fit in any body is refused too.
    narrow = refusal(exactly, ReceiverRules(len(exactly) + EVENTLIST_OVERHEAD - 1, 10**6))
    assert narrow is not None and "max_batch_bytes" in narrow.message
    unchecked = ReceiverRules(10**6, 10**6, require_stage_timestamp=False)
    assert refusal(line(event(stageTimestamp=None)), unchecked) is None


def test_event_list_is_what_falco_and_kube_expect() -> None:
    values = [line(event(auditID="a")), line(event(auditID="b"))]
    body = json.loads(event_list(values))
    assert body["kind"] == "EventList" and body["apiVersion"] == "audit.k8s.io/v1"
    assert [i["auditID"] for i in body["items"]] == ["a", "b"]
    assert len(event_list(values)) == EVENTLIST_OVERHEAD + sum(map(len, values)) + 1


@pytest.mark.parametrize("limit", [EVENTLIST_OVERHEAD + 100, EVENTLIST_OVERHEAD + 250, 10_000])
def test_split_fills_bodies_up_to_the_limit(limit: int) -> None:
    sizes = [100, 50, 49, 100, 1, 100, 70]
    groups = split(sizes, limit)
    assert [i for g in groups for i in g] == list(range(len(sizes)))  # every event once, in order
    for g in groups:
        body = len(event_list([b"x" * sizes[i] for i in g]))
        assert body <= limit
        if g.stop < len(sizes):  # the next event would not have fit
            assert body + 1 + sizes[g.stop] > limit
    assert split([], limit) == []
