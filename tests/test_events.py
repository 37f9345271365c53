"""Decoding every shape that reaches Kafka, and refusing bad input clearly."""

from __future__ import annotations

import gzip
import json

import msgspec
import pytest

from pipeline import events as events_mod
from pipeline.decode import decode_record
from pipeline.errors import ReasonCode
from pipeline.events import Event

from .conftest import REAL_AUDIT
from .helpers import event, line


def decode(data: bytes) -> tuple[list[Event], list]:
    events: list[Event] = []
    errors: list = []
    decode_record(data, "src:1", events, errors)
    return events, errors


RAW = line(event())


def test_raw_event_line() -> None:
    events, errors = decode(RAW)
    assert errors == []
    (ev,) = events
    assert ev.level == "RequestResponse" and ev.stage == "ResponseComplete" and ev.verb == "create"
    assert ev.request == (
        "alice",
        ("dev", "system:authenticated"),
        "create",
        "prod",
        "",
        "pods",
        "",
        "web",
        "/api/v1/namespaces/prod/pods",
        True,
        "RequestResponse",
    )
    assert ev.raw == RAW


def test_fluent_bit_envelope_double_timestamp() -> None:
    data = json.dumps({"@timestamp": 1684336111.002417, "log": RAW.decode()}).encode()
    (ev,), errors = decode(data)
    assert not errors and ev.audit_id == event()["auditID"]
    assert ev.raw == data  # a dead letter would carry the whole envelope


def test_flattened_event_keeps_timestamp_key() -> None:
    data = line({"@timestamp": "2023-05-17T15:08:31.002417Z", **event()})
    (ev,), errors = decode(data)
    assert not errors and "@timestamp" in ev.fields


def test_container_log_envelope() -> None:
    data = line(
        {
            "time": "2026-11-27T10:00:00.1Z",
            "stream": "stdout",
            "_p": "F",
            "log": RAW.decode(),
            "kubernetes": {"pod_name": "kube-apiserver-x", "namespace_name": "kube-system"},
        }
    )
    (ev,), errors = decode(data)
    assert not errors and ev.verb == "create"


def test_cri_message_key() -> None:
    data = line({"time": "t", "stream": "stdout", "logtag": "F", "message": RAW.decode()})
    (_one,), errors = decode(data)
    assert not errors


def test_event_list_items_without_type_meta() -> None:
    items = [event(kind=None, apiVersion=None, auditID=f"id-{i}") for i in range(3)]
    data = line({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items})
    events, errors = decode(data)
    assert not errors
    assert [e.audit_id for e in events] == ["id-0", "id-1", "id-2"]


def test_json_array_of_events_and_lists() -> None:
    data = line([event(auditID="a"), {"kind": "EventList", "items": [event(auditID="b")]}])
    events, errors = decode(data)
    assert not errors and [e.audit_id for e in events] == ["a", "b"]


def test_msgpack_envelope() -> None:
    data = msgspec.msgpack.encode({"@timestamp": 1684336111.0, "log": RAW.decode()})
    (ev,), errors = decode(data)
    assert not errors and ev.audit_id == event()["auditID"]


def test_bad_item_in_list_is_its_own_dead_letter() -> None:
    bad = event(auditID="bad", verb=5)
    data = line({"kind": "EventList", "items": [event(auditID="good"), bad]})
    events, errors = decode(data)
    assert [e.audit_id for e in events] == ["good"]
    (err,) = errors
    assert err.code is ReasonCode.WRONG_TYPE and err.path == "$.items[1].verb"
    assert json.loads(err.raw)["auditID"] == "bad"


def test_v1beta1_and_sorted_keys_without_api_version() -> None:
    for name in ("audit2rbac-demo-v1beta1.jsonl", "falco-k8s-audit-trace-files.jsonl", "crowdsec-hub-k8s-audit.jsonl"):
        for n, raw in enumerate((REAL_AUDIT / name).read_bytes().splitlines(), 1):
            events, errors = decode(raw)
            assert not errors, (name, n, errors)
            assert len(events) == 1


def test_nil_user() -> None:
    (ev,), _ = decode(line(event(user={})))
    assert ev.request[0] is None and ev.request[1] == ()


def test_non_resource_request_path_without_query() -> None:
    (ev,), _ = decode(line(event(objectRef=None, requestURI="/healthz?verbose=1", verb="get")))
    assert ev.request[8] == "/healthz" and ev.request[9] is False


@pytest.mark.parametrize(
    ("data", "code", "path"),
    [
        (b"not json", ReasonCode.INVALID_JSON, "$"),
        (b'{"auditID": "x"', ReasonCode.INVALID_JSON, "$"),
        (b'"a string"', ReasonCode.NOT_AN_OBJECT, "$"),
        (b"42", ReasonCode.NOT_AN_OBJECT, "$"),
        (b"   ", ReasonCode.EMPTY, "$"),
        (line(event(verb=7)), ReasonCode.WRONG_TYPE, "$.verb"),
        (line(event(user={"username": "a", "groups": ["ok", 3]})), ReasonCode.WRONG_TYPE, "$.user.groups[1]"),
        (line(event(objectRef={"resource": ["pods"]})), ReasonCode.WRONG_TYPE, "$.objectRef.resource"),
        (line(event(auditID=None)), ReasonCode.MISSING_FIELD, "$"),
        (line(event(level="Everything")), ReasonCode.INVALID_VALUE, "$.level"),
        (line(event(stage="Done")), ReasonCode.INVALID_VALUE, "$.stage"),
        (line({"kind": 0}), ReasonCode.UNKNOWN_SHAPE, "$"),
        (line({"@timestamp": 1.0, "log": 12}), ReasonCode.WRONG_TYPE, "$.log"),
        (line({"@timestamp": 1.0, "log": "{broken"}), ReasonCode.INVALID_JSON, "$.log"),
        (b'{"auditID":"\xff\xfe"}', ReasonCode.INVALID_UTF8, "$"),
        (b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}", ReasonCode.TOO_DEEP, "$"),
    ],
)
def test_bad_input_is_a_record_error(data: bytes, code: ReasonCode, path: str) -> None:
    events, errors = decode(data)
    assert events == []
    (err,) = errors
    assert err.code is code, err
    assert err.path == path
    assert err.raw == data and err.source == "src:1"
    assert err.message


def test_a_value_valid_for_one_field_is_still_checked_for_another() -> None:
    # The decoded-value caches are per field: a verb "get" seen first must not
    # let a level or stage "get" through.
    decode(line(event(verb="get")))
    for field in ("level", "stage"):
        events, (err,) = decode(line(event(**{field: "get"})))
        assert events == [] and err.code is ReasonCode.INVALID_VALUE and err.path == f"$.{field}"


BAD_TAILS = [
    {"auditID": 7},
    {"requestURI": ["/api"]},
    {"objectRef": "pods"},
    {"objectRef": {"name": 5}},
    {"objectRef": {"resource": ["pods"]}, "auditID": None},
    {"auditID": None},
    {"user": None},
    {"requestURI": {"a": "\u00e9"}, "objectRef": 1},
]


@pytest.mark.parametrize("overrides", BAD_TAILS)
def test_an_error_is_the_same_when_the_level_stage_verb_and_user_were_seen_before(overrides: dict[str, object]) -> None:
    # A known level/stage/verb/user sends the rest through one combined decode;
    # its failure must be reported exactly as the field-by-field path reports it.
    data = line({k: v for k, v in event(**overrides).items() if v is not None})
    events_mod._heads.clear()
    for cache in events_mod._caches.values():
        cache.clear()
    _, cold = decode(data)
    decode(RAW)  # warms the caches with the same level, stage, verb and user
    _, warm = decode(data)
    assert [(e.code, e.message, e.path) for e in cold] == [(e.code, e.message, e.path) for e in warm]
    assert len(cold) == 1


def test_missing_fields_are_all_named() -> None:
    _, (err,) = decode(line(event(auditID=None, verb=None)))
    assert "`auditID`" in err.message and "`verb`" in err.message


def test_ten_megabyte_line_is_too_large() -> None:
    big = line(event(requestObject={"data": "x" * (10 * 1024 * 1024)}))
    events, errors = decode(big)
    assert events == [] and errors[0].code is ReasonCode.TOO_LARGE
    assert "over the limit" in errors[0].message


def test_limit_is_configurable() -> None:
    events: list[Event] = []
    errors: list = []
    decode_record(RAW, "s", events, errors, max_bytes=100)
    assert errors and errors[0].code is ReasonCode.TOO_LARGE


def test_gzip_records_are_decompressed_and_broken_ones_rejected() -> None:
    # A Kinesis record of a CloudWatch subscription is gzip; so may be any bridge's value.
    (ev,), errors = decode(gzip.compress(RAW))
    assert not errors and ev.fields == decode(RAW)[0][0].fields
    events, errors = decode(gzip.compress(RAW)[:40])
    assert events == [] and errors[0].code is ReasonCode.INVALID_VALUE and "truncated gzip" in errors[0].message
