"""The Falco-rule receiver's own rules: the per-request answers over real HTTP,
and the per-payload and per-event drops Falco makes after its 200."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from .falco_receiver import FalcoReceiver, falco_parse, remarshalled
from .helpers import event, line


def post(url: str, body: bytes, content_type: str | None = "application/json", method: str = "POST") -> int:
    request = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    if content_type is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def event_list(*items: dict[str, Any]) -> bytes:
    return line({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": list(items)})


def test_per_request_rules() -> None:
    with FalcoReceiver(max_batch_size=1000) as falco:
        body = event_list(event(auditID="a", requestObject=None, responseObject=None))
        assert post(falco.url, body, method="GET") == 405
        assert post(falco.url, body, method="PUT") == 405
        assert post(falco.url, body, content_type="text/plain") == 400
        assert post(falco.url, body, content_type=None) == 400
        assert post(falco.url, b"x" * 1001) == 400  # over webhookMaxBatchSize
        assert post(falco.url, body, content_type="application/json; charset=utf-8") == 200
        # 200 before parsing: not JSON is accepted, then dropped.
        assert post(falco.url, b"x" * 1000) == 200
    assert [e["auditID"] for e in falco.accepted_events()] == ["a"]
    assert [reason.split(":")[0] for reason, _ in falco.dropped] == ["cannot parse JSON"]
    assert falco.statuses() == [405, 405, 400, 400, 400, 200, 200]


def test_scripted_answers_come_first_then_the_rules() -> None:
    with FalcoReceiver(script=[503, 500]) as falco:
        body = event_list(event(auditID="a"))
        assert [post(falco.url, body) for _ in range(3)] == [503, 500, 200]
    assert len(falco.accepted) == 1


@pytest.mark.parametrize(
    ("payload", "kept", "reason"),
    [
        (event_list(event(auditID="a"), event(auditID="b")), ["a", "b"], None),
        (line(event(auditID="a")), ["a"], None),  # kind Event
        (line([event(auditID="a"), json.loads(event_list(event(auditID="b")))]), ["a", "b"], None),
        # One element that is not recognised drops the whole array.
        (line([event(auditID="a"), {"kind": "Pod"}]), [], "data not recognized"),
        (line({"kind": "EventList", "items": []}), [], "data not recognized"),
        (line({"kind": "EventList"}), [], "data not recognized"),
        (line({**event(), "kind": 5}), [], "data not recognized"),  # kind is not a string
        (line({"items": [event()]}), [], "data not recognized"),
        (b'"just a string"', [], "data not recognized"),
        (b"{not json", [], "cannot parse JSON"),
    ],
)
def test_payload_shapes(payload: bytes, kept: list[str], reason: str | None) -> None:
    outcome = falco_parse(payload)
    assert [json.loads(e)["auditID"] for e in outcome.events] == kept
    if reason is None:
        assert outcome.dropped == []
    else:
        assert len(outcome.dropped) == 1 and outcome.dropped[0][0].startswith(reason)


@pytest.mark.parametrize(
    ("stamp", "kept"),
    [
        ("2026-11-27T10:00:01.627999Z", True),
        ("2026-11-27T10:00:01Z", True),
        ("2026-11-27T10:00:01.123456789+02:00", True),
        (None, False),  # absent
        ("", False),
        ("2026-11-27 10:00:01Z", False),
        ("2026-02-30T10:00:01Z", False),
        ("1700000000", False),
    ],
)
def test_stage_timestamp_rule(stamp: str | None, kept: bool) -> None:
    outcome = falco_parse(event_list(event(stageTimestamp=stamp)))
    assert len(outcome.events) == int(kept)
    assert len(outcome.dropped) == int(not kept)


@pytest.mark.parametrize("value", ["null", "1700000000", "{}"])
def test_stage_timestamp_that_is_not_a_string_is_dropped(value: str) -> None:
    item = line(event(stageTimestamp=None))[:-1] + b',"stageTimestamp":' + value.encode() + b"}"
    outcome = falco_parse(b'{"kind":"EventList","items":[' + item + b"]}")
    assert outcome.events == [] and len(outcome.dropped) == 1


def test_a_non_object_item_is_dropped_alone() -> None:
    outcome = falco_parse(b'{"kind":"EventList","items":[3,' + line(event(auditID="a")) + b"]}")
    assert [json.loads(e)["auditID"] for e in outcome.events] == ["a"]
    assert outcome.dropped == [("can't read stageTimestamp", b"3")]


def test_event_size_counts_the_remarshalled_event() -> None:
    base = line(event(requestObject=None, responseObject=None))
    limit = len(base)
    assert len(falco_parse(event_list(json.loads(base)), limit).events) == 1
    assert len(falco_parse(event_list(json.loads(base)), limit - 1).events) == 0
    # Whitespace between tokens does not count; whitespace inside strings does.
    pretty = json.dumps(json.loads(base), indent=2).encode()
    assert remarshalled(pretty) == base
    assert len(falco_parse(pretty, limit).events) == 1
    spaced = json.loads(base)
    spaced["userAgent"] = "a b  c"
    assert len(remarshalled(json.dumps(spaced).encode())) == len(line(spaced))
