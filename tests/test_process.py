"""The per-batch transform: policy level applied, nothing else lost, enrichment, routing."""

from __future__ import annotations

import json

import pytest

from .helpers import event, line, outputs, processor, run

ALL_REQUEST_RESPONSE = [{"level": "RequestResponse"}]


def test_unknown_fields_survive_top_level_and_nested() -> None:
    ev = event(
        futureField={"nested": [1, {"deep": True}]},
        user={"username": "alice", "uid": "7", "extra": {"scopes": ["a"]}, "newThing": 1},
    )
    ev["objectRef"]["someNewRefField"] = "x"
    ev["responseObject"]["status"] = {"weird": "\u00b5s", "n": 1.5e300}
    (out,) = outputs(run(processor(ALL_REQUEST_RESPONSE, "enrichment: {enabled: false}"), line(ev)))
    assert out == ev


def test_bodies_are_copied_byte_for_byte() -> None:
    # Go writes HTML-safe escapes; a re-encode would turn \u0026 into &.
    raw = line(event()).replace(b'"name":"web","uid"', b'"name":"a\\u0026b","uid"')
    batch = run(processor(ALL_REQUEST_RESPONSE, "enrichment: {enabled: false}"), raw)
    assert b'"name":"a\\u0026b"' in batch.events[0].value
    assert batch.events[0].value == raw


@pytest.mark.parametrize(
    ("rule_level", "recorded", "out_level", "has_req", "has_resp"),
    [
        ("Metadata", "RequestResponse", "Metadata", False, False),
        ("Request", "RequestResponse", "Request", True, False),
        ("RequestResponse", "RequestResponse", "RequestResponse", True, True),
        ("RequestResponse", "Metadata", "Metadata", False, False),  # never rises
        ("RequestResponse", "Request", "Request", True, False),
    ],
)
def test_level_applied(rule_level: str, recorded: str, out_level: str, has_req: bool, has_resp: bool) -> None:
    ev = event(level=recorded)
    if recorded == "Metadata":
        ev.pop("requestObject"), ev.pop("responseObject")
    if recorded == "Request":
        ev.pop("responseObject")
    (out,) = outputs(run(processor([{"level": rule_level}]), line(ev)))
    assert out["level"] == out_level
    assert ("requestObject" in out) is has_req
    assert ("responseObject" in out) is has_resp
    assert out["annotations"]["auditpipe.io/original-level"] == recorded


def test_none_and_no_match_drop() -> None:
    proc = processor([{"level": "None", "users": ["alice"]}, {"level": "Metadata", "users": ["bob"]}])
    batch = run(proc, line(event()), line(event(user={"username": "carol"})))
    assert batch.events == []
    assert batch.stats.dropped_by == {("level_none", 0): 1, ("no_rule", -1): 1}


def test_recorded_at_none_is_dropped_and_labelled_truthfully() -> None:
    proc = processor([{"level": "Metadata"}])
    batch = run(proc, line(event(level="None", requestObject=None, responseObject=None)))
    assert batch.events == []
    assert batch.stats.dropped_by == {("recorded_none", 0): 1}


def test_omit_stages_policy_and_rule() -> None:
    proc = processor([{"level": "Metadata", "omitStages": ["ResponseStarted"]}], omitStages=["RequestReceived"])
    batch = run(
        proc,
        line(event(stage="RequestReceived")),
        line(event(stage="ResponseStarted")),
        line(event(stage="ResponseComplete")),
    )
    assert [o["stage"] for o in outputs(batch)] == ["ResponseComplete"]
    assert batch.stats.dropped_by == {("omitted_stage", 0): 2}


def test_omit_managed_fields_object_list_table() -> None:
    pod = {"kind": "Pod", "metadata": {"name": "p", "managedFields": [{"manager": "m"}]}}
    lst = {"kind": "PodList", "items": [pod, pod]}
    table = {"kind": "Table", "rows": [{"cells": ["p"], "object": pod}]}
    for body in (pod, lst, table):
        ev = event(requestObject=body, responseObject=body)
        (out,) = outputs(run(processor([{"level": "RequestResponse", "omitManagedFields": True}]), line(ev)))
        assert b"managedFields" not in json.dumps(out).encode(), body["kind"]
        assert out["responseObject"]["kind"] == body["kind"]


def test_managed_fields_kept_unless_asked_and_patch_body_untouched() -> None:
    ev = event()
    (out,) = outputs(run(processor(ALL_REQUEST_RESPONSE), line(ev)))
    assert out["requestObject"]["metadata"]["managedFields"]
    patch = event(verb="patch", requestObject={"metadata": {"managedFields": [{"manager": "x"}]}})
    (out,) = outputs(run(processor(ALL_REQUEST_RESPONSE, omitManagedFields=True), line(patch)))
    assert out["requestObject"]["metadata"]["managedFields"]  # a patch is stored raw
    assert "managedFields" not in out["responseObject"]["metadata"]


def test_enrichment_annotations_and_prefix() -> None:
    proc = processor(
        [{"level": "None", "verbs": ["get"]}, {"level": "Metadata"}],
        "enrichment: {annotation_prefix: 'x.io/', cluster_name: prod-eu}",
    )
    (out,) = outputs(run(proc, line(event())))
    ann = out["annotations"]
    assert ann["x.io/rule"] == "1"
    assert ann["x.io/original-level"] == "RequestResponse"
    assert ann["x.io/cluster"] == "prod-eu"
    assert ann["x.io/source"] == "test:1"
    assert ann["authorization.k8s.io/decision"] == "allow"


def test_enrichment_adds_annotations_when_absent() -> None:
    (out,) = outputs(run(processor(ALL_REQUEST_RESPONSE), line(event(annotations=None))))
    assert out["annotations"]["auditpipe.io/rule"] == "0"


ROUTES = """
outputs:
  - {type: file, name: secrets, path: s.jsonl, selector: {resources: [{group: "", resources: [secrets]}]}}
  - {type: file, name: writes, path: w.jsonl, selector: {verbs: [create, update, patch, delete]}}
  - {type: file, name: full, path: f.jsonl, selector: {levels: [RequestResponse]}}
default_output: {type: file, name: rest, path: "-"}
"""


def test_routing_every_match_and_default() -> None:
    proc = processor(
        [{"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}, {"level": "RequestResponse"}],
        ROUTES,
    )
    secret_create = line(event(objectRef={"resource": "secrets", "namespace": "a", "name": "s"}))
    pod_create = line(event())
    health = line(event(objectRef=None, verb="get", requestURI="/healthz", level="Metadata"))
    batch = run(proc, secret_create, pod_create, health)
    got = {name: [r.index for r in recs] for name, recs in batch.outputs.items()}
    assert got == {"secrets": [0], "writes": [0, 1], "full": [1], "rest": [2]}
    assert batch.events[0] is batch.outputs["secrets"][0]  # routed, not copied


def test_bad_records_become_dead_letters_with_their_index() -> None:
    batch = run(processor(ALL_REQUEST_RESPONSE), b"nope", line(event()), line(event(verb=[1])))
    assert [i for i, _ in batch.dead_letters] == [0, 2]
    assert batch.stats.rejected == 2 and batch.stats.events_out == 1
    assert batch.events[0].index == 1


def test_output_key_is_audit_id() -> None:
    batch = run(processor(ALL_REQUEST_RESPONSE), line(event(auditID="abc")))
    assert batch.events[0].key == b"abc"
