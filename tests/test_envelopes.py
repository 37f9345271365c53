"""Managed platforms' exports decode into audit.k8s.io/v1 Events with nothing lost,
each event saying where it came from; what is not audit is skipped, what the
platform cut short is dead-lettered with what could be recovered."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.decode import RecordDecoder
from pipeline.errors import ReasonCode, Rejection
from pipeline.events import Event

from .conftest import DATA, REAL_AUDIT
from .helpers import event, line, outputs, processor, run

SAMPLES = DATA / "platform-envelopes"
AUDIT_LINES = (REAL_AUDIT / "crowdsec-hub-k8s-audit.jsonl").read_bytes().splitlines()
AUDIT_LINES += (REAL_AUDIT / "audit2rbac-demo-v1.jsonl").read_bytes().splitlines()[:3]


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_bytes())
    return data


def decode(
    record: bytes | dict[str, Any], decoder: RecordDecoder | None = None
) -> tuple[list[Event], list[Rejection], dict[str, int]]:
    d = decoder or RecordDecoder()
    data = record if isinstance(record, bytes) else json.dumps(record).encode()
    events: list[Event] = []
    errors: list[Rejection] = []
    d.decode(data, "test:1", events, errors)
    return events, errors, dict(d.skipped)


def members(raw: bytes) -> dict[str, Any]:
    return {k: v for k, v in json.loads(raw).items()}


def as_dict(ev: Event) -> dict[str, Any]:
    return {k: json.loads(bytes(v)) for k, v in ev.fields.items()}


# ---- EKS: CloudWatch Logs ----------------------------------------------------------------------


def cloudwatch_batch(messages: list[str], group: str = "/aws/eks/prod-eu/cluster") -> dict[str, Any]:
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "kube-apiserver-audit-0f1e2d3c4b5a69788796a5b4c3d2e1f0",
        "subscriptionFilters": ["audit"],
        "logEvents": [
            {
                "id": str(36000000000000000000000000000000000000000000000000000000 + i),
                "timestamp": 1700000000000 + i,
                "message": m,
            }
            for i, m in enumerate(messages)
        ],
    }


def packed(obj: dict[str, Any]) -> str:
    return base64.b64encode(gzip.compress(json.dumps(obj).encode())).decode()


MESSAGES = [x.decode() for x in AUDIT_LINES]


@pytest.mark.parametrize(
    "wrapper", ["batch", "awslogs", "firehose", "kinesis-lambda", "kinesis-blob", "base64", "layer-a"]
)
def test_eks_audit_lines_come_out_unchanged(wrapper: str) -> None:
    batch = cloudwatch_batch(MESSAGES)
    record: bytes | dict[str, Any] = {
        "batch": batch,
        "awslogs": {"awslogs": {"data": packed(batch)}},
        # the real control message from the SAM sample first: skipped, not rejected
        "firehose": {
            "invocationId": "x",
            "records": [sample("eks-2")["records"][0], {"recordId": "1", "data": packed(batch)}],
        },
        "kinesis-lambda": {"Records": [{"kinesis": {"data": packed(batch)}, "eventSource": "aws:kinesis"}]},
        "kinesis-blob": gzip.compress(json.dumps(batch).encode()),
        "base64": packed(batch).encode(),
        "layer-a": {
            "logStreamName": "kube-apiserver-audit-x",
            "timestamp": 1,
            "message": MESSAGES[0],
            "ingestionTime": 2,
            "eventId": "9",
        },
    }[wrapper]
    events, errors, skipped = decode(record)
    assert errors == []
    want = MESSAGES[:1] if wrapper == "layer-a" else MESSAGES
    assert [as_dict(e) for e in events] == [json.loads(m) for m in want]  # nothing lost, nothing made up
    if wrapper == "firehose":
        assert skipped == {"control_message": 1}
    if wrapper != "layer-a":
        assert events[0].envelope.startswith("eks cluster=prod-eu logStream=kube-apiserver-audit-0f1e")


def test_eks_control_messages_are_skipped_and_foreign_lines_rejected() -> None:
    assert decode(sample("eks-4")) == ([], [], {"control_message": 1})
    events, errors, _ = decode(sample("eks-1"))  # the SAM sample's messages are not audit events
    assert events == [] and [e.path for e in errors] == [
        "$.awslogs.data.logEvents[0].message",
        "$.awslogs.data.logEvents[1].message",
    ]


def test_eks_truncated_line_is_dead_lettered_with_what_can_be_recovered() -> None:
    cut = MESSAGES[0][:420] + "[Truncated...]"
    events, errors, _ = decode(cloudwatch_batch([MESSAGES[1], cut]))
    assert len(events) == 1
    (err,) = errors
    assert err.code is ReasonCode.TRUNCATED_BY_PLATFORM
    assert "auditID=57a794de-44d3-40ee-a0ad-c0eb096eef6c" in err.message and "verb=create" in err.message
    assert err.raw == cut.encode()  # the dead letter holds that line only


def test_decompression_bombs_stop_at_the_limit() -> None:
    bomb = gzip.compress(b"[" + b" " * (20 << 20) + b"]")
    events, errors, _ = decode(bomb, RecordDecoder(max_bytes=8 << 20))
    assert events == [] and errors[0].code is ReasonCode.TOO_LARGE


# ---- AKS: Event Hubs --------------------------------------------------------------------------------


def test_aks_records_hold_audit_events_and_other_categories_are_skipped() -> None:
    hub = {"records": [sample("aks-3"), sample("aks-5"), sample("aks-4")]}
    events, errors, skipped = decode(hub)
    assert errors == [] and skipped == {"not_audit": 1}
    for ev, name in zip(events, ("aks-3", "aks-4")):
        assert as_dict(ev) == json.loads(sample(name)["properties"]["log"])  # the apiserver's line, whole
    assert events[0].envelope.startswith("aks cluster=arc-cluster02 resourceGroup=hpalakscluster subscription=")
    assert "category=kube-audit pod=kube-apiserver-57b5944b45-94w49" in events[0].envelope
    assert "category=kube-audit-admin" in events[1].envelope


def test_aks_log_may_already_be_an_object() -> None:
    record = dict(sample("aks-3"))
    original = json.loads(record["properties"]["log"])
    record["properties"] = {**record["properties"], "log": original}
    (ev,), errors, _ = decode({"records": [record]})
    assert errors == [] and as_dict(ev) == original


def test_aks_line_cut_at_16_kib_is_dead_lettered() -> None:
    big = event(requestObject={"data": "x" * 20000})
    record = dict(sample("aks-3"))
    record["properties"] = {**record["properties"], "log": json.dumps(big)[:16384]}
    events, errors, _ = decode({"records": [record, sample("aks-3")]})
    assert len(events) == 1
    assert errors[0].code is ReasonCode.TRUNCATED_BY_PLATFORM and "auditID=0b1e7f4c" in errors[0].message


# ---- GKE: Cloud Logging ---------------------------------------------------------------------------


def test_gke_entries_are_rebuilt_as_events_naming_what_was_made_up() -> None:
    entry = sample("gke-1")
    (ev,), errors, _ = decode(entry)
    assert errors == []
    out = as_dict(ev)
    p = entry["protoPayload"]
    assert out["kind"] == "Event" and out["apiVersion"] == "audit.k8s.io/v1"
    assert out["auditID"] == entry["insertId"] and out["verb"] == "create"
    assert out["user"] == {"username": p["authenticationInfo"]["principalEmail"]}
    assert out["objectRef"] == {
        "resource": "pods",
        "namespace": "1-2-deployment-update",
        "name": "nginx-deployment-surge-8655b4b8c5-xf5f4",
        "apiVersion": "v1",
    }
    assert out["requestURI"] == "/api/v1/namespaces/1-2-deployment-update/pods/nginx-deployment-surge-8655b4b8c5-xf5f4"
    assert out["level"] == "RequestResponse" and out["stage"] == "ResponseComplete"
    assert out["responseStatus"] == {"metadata": {}, "code": 201}
    assert "@type" not in out["requestObject"] and out["responseObject"]["kind"] == "Pod"
    assert out["annotations"] == entry["labels"]
    assert out["stageTimestamp"] == entry["timestamp"]
    assert ev.synthesized == "stage,level,requestURI,responseStatus,user.groups"
    assert ev.envelope.startswith(
        "gke project=sample-project location=us-central1-a cluster=sample-cluster log=activity"
    )


def test_gke_subresources_non_resource_requests_and_denials() -> None:
    (patch,), _, _ = decode(sample("gke-2"))
    assert as_dict(patch)["objectRef"]["subresource"] == "status" and patch.level == "Request"
    denied = {
        "insertId": "d1",
        "timestamp": "2026-11-27T10:00:00.123456Z",
        "logName": "projects/p/logs/x",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": "k8s.io",
            "methodName": "io.k8s.get",
            "resourceName": "readyz",
            "authenticationInfo": {"principalEmail": "system:anonymous"},
            "status": {"code": 7, "message": "forbidden"},
        },
    }
    (ev,), errors, _ = decode(denied)
    out = as_dict(ev)
    assert errors == [] and "objectRef" not in out and out["requestURI"] == "/readyz" and out["verb"] == "get"
    assert out["responseStatus"] == {"metadata": {}, "status": "Failure", "code": 403, "message": "forbidden"}
    assert ev.request[9] is False and ev.request[8] == "/readyz"  # a non-resource request to the policy


@pytest.mark.parametrize(
    ("method", "resource_name", "ref", "uri"),
    [
        (
            "io.k8s.core.v1.namespaces.status.update",
            "core/v1/namespaces/team-a/status",
            {"resource": "namespaces", "name": "team-a", "subresource": "status"},
            "/api/v1/namespaces/team-a/status",
        ),
        (
            "io.k8s.core.v1.configmaps.list",
            "core/v1/namespaces/team-a/configmaps",
            {"resource": "configmaps", "namespace": "team-a"},
            "/api/v1/namespaces/team-a/configmaps",
        ),
        (
            "io.k8s.core.v1.nodes.status.patch",
            "core/v1/nodes/n1/status",
            {"resource": "nodes", "name": "n1", "subresource": "status"},
            "/api/v1/nodes/n1/status",
        ),
        (
            "io.k8s.authorization.rbac.v1.clusterroles.create",
            "rbac.authorization.k8s.io/v1/clusterroles/r",
            {"resource": "clusterroles", "name": "r", "apiGroup": "rbac.authorization.k8s.io"},
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/r",
        ),
    ],
)
def test_gke_resource_names(method: str, resource_name: str, ref: dict[str, str], uri: str) -> None:
    entry = {
        "insertId": "i",
        "timestamp": "t",
        "protoPayload": {"serviceName": "k8s.io", "methodName": method, "resourceName": resource_name},
    }
    (ev,), _, _ = decode(entry)
    out = as_dict(ev)
    assert {k: v for k, v in out["objectRef"].items() if k != "apiVersion"} == ref
    assert out["requestURI"] == uri


def test_gke_other_services_and_pubsub_push() -> None:
    other = {"insertId": "i", "protoPayload": {"serviceName": "container.googleapis.com", "methodName": "x"}}
    assert decode(other) == ([], [], {"not_audit": 1})
    push = {
        "message": {"data": base64.b64encode(json.dumps(sample("gke-3")).encode()).decode(), "messageId": "1"},
        "subscription": "projects/p/subscriptions/s",
    }
    (ev,), errors, _ = decode(push)
    assert errors == [] and ev.envelope.startswith("gke ")


# ---- OpenShift ----------------------------------------------------------------------------------


def test_openshift_viaq_records_lose_the_forwarders_keys_and_get_their_level_back() -> None:
    record = sample("openshift-1")
    (ev,), errors, _ = decode(record)
    out = as_dict(ev)
    assert errors == [] and out["level"] == "Metadata" == record["k8s_audit_level"]
    assert not {"@timestamp", "hostname", "log_type", "openshift", "k8s_audit_level"} & set(out)
    assert out["auditID"] == record["auditID"] and out["requestURI"] == record["requestURI"]
    assert ev.envelope == (
        "openshift cluster_id=d24a392b-dd87-4eb8-a1a9-7384423567e3 "
        "hostname=ip-10-0-187-180.us-east-2.compute.internal log_source=kubeAPI"
    )
    (api,), _, _ = decode(sample("openshift-2"))
    assert api.level == "Metadata" and "log_source=openshiftAPI" in api.envelope


def test_openshift_otlp_and_non_kubernetes_records() -> None:
    events, errors, _ = decode(sample("openshift-3"))
    bodies = [r["body"]["stringValue"] for r in sample("openshift-3")["resourceLogs"][0]["scopeLogs"][0]["logRecords"]]
    assert errors == [] and [as_dict(e) for e in events] == [json.loads(b) for b in bodies]
    assert decode(sample("openshift-4")) == ([], [], {"not_audit": 1})


# ---- Fluent Bit record keys ----------------------------------------------------------------------


def test_fluent_bit_record_keys_are_configurable() -> None:
    raw = AUDIT_LINES[0].decode()
    renamed = {"@timestamp": 1.5, "kubernetes-audit": raw}
    merged = {"@timestamp": 1.5, "stream": "stdout", "log_processed": json.loads(raw), "kubernetes": {"pod_name": "x"}}
    default = RecordDecoder()
    assert decode(renamed, default)[1][0].code is ReasonCode.UNKNOWN_SHAPE
    custom = RecordDecoder(record_keys=("log", "message", "kubernetes-audit", "log_processed"))
    for record in (renamed, merged):
        (ev,), errors, _ = decode(record, custom)
        assert errors == [] and as_dict(ev) == json.loads(raw)


def test_processor_takes_record_keys_from_the_config_and_annotates_the_envelope() -> None:
    proc = processor([{"level": "RequestResponse"}], "decoding: {record_keys: [log, kubernetes-audit]}")
    batch = run(proc, line({"kubernetes-audit": AUDIT_LINES[0].decode()}), line(sample("gke-1")), line(sample("eks-4")))
    outs = outputs(batch)
    assert len(outs) == 2 and batch.stats.skipped == {"control_message": 1} and batch.stats.rejected == 0
    gke = outs[1]["annotations"]
    assert gke["auditpipe.io/envelope"].startswith("gke ") and gke["auditpipe.io/synthesized"].startswith("stage,")
    assert "auditpipe.io/envelope" not in outs[0]["annotations"]


def test_samples_are_the_vendored_files() -> None:
    assert sorted(p.name for p in Path(SAMPLES).glob("*.json")) == sorted(
        [f"eks-{i}.json" for i in range(1, 5)]
        + [f"aks-{i}.json" for i in (3, 4, 5)]
        + [f"gke-{i}.json" for i in (1, 2, 3)]
        + [f"openshift-{i}.json" for i in range(1, 5)]
    )
    assert members(AUDIT_LINES[0])["kind"] == "Event"
