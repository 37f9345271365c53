"""Property: whatever bytes arrive, process() neither raises nor loses a record
silently: each record yields events (kept or dropped by the policy) or a
record error."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import event, line, processor

PROC = processor(
    [
        {"level": "None", "verbs": ["watch"]},
        {"level": "RequestResponse", "omitManagedFields": True, "omitStages": ["RequestReceived"]},
    ],
    "outputs:\n  - {type: file, name: s, path: s.jsonl, selector: {resources: [{group: '', resources: [secrets]}]}}\n",
)
BASE = line(event())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "objectRef",
        "requestObject",
        "responseObject",
        "annotations",
        "items",
        "log",
        "kind",
    ]
)


def check(record: bytes) -> None:
    batch = PROC.process([record], ["fuzz:1"])
    stats = batch.stats
    assert stats.events_in >= 1 or stats.rejected >= 1, record[:200]
    assert stats.events_out + stats.dropped == stats.events_in
    for out in batch.events:
        json.loads(out.value)  # every output is valid JSON


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(0, len(BASE)),
)
def test_corrupted_event_bytes(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(BASE)
    for at, byte in flips:
        data[at] = byte
    check(bytes(data[:cut] if cut % 3 == 0 else data))


@settings(max_examples=300, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field_names, json_values, st.sampled_from(["raw", "envelope", "list", "eventlist"]))
def test_fields_of_any_type_in_any_shape(name: str, value: object, shape: str) -> None:
    ev = event()
    ev[name] = value
    raw = json.dumps(ev)
    record = {
        "raw": raw,
        "envelope": json.dumps({"@timestamp": 1.5, "log": raw}),
        "list": json.dumps([ev, event(auditID="other")]),
        "eventlist": json.dumps({"kind": "EventList", "items": [ev]}),
    }[shape]
    check(record.encode())
