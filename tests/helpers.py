"""Small builders shared by the unit tests."""

from __future__ import annotations

import json
from typing import Any

from pipeline import config as config_mod
from pipeline import policy as policy_mod
from pipeline.process import Processor


def event(**overrides: Any) -> dict[str, Any]:
    """A complete audit.k8s.io/v1 event (a pod create at RequestResponse)."""
    base: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "0b1e7f4c-5a8a-4c71-9d3e-1f2a3b4c5d6e",
        "stage": "ResponseComplete",
        "requestURI": "/api/v1/namespaces/prod/pods",
        "verb": "create",
        "user": {"username": "alice", "groups": ["dev", "system:authenticated"]},
        "sourceIPs": ["10.0.0.1"],
        "objectRef": {"resource": "pods", "namespace": "prod", "name": "web", "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": {"kind": "Pod", "metadata": {"name": "web", "managedFields": [{"manager": "kubectl"}]}},
        "responseObject": {
            "kind": "Pod",
            "metadata": {"name": "web", "uid": "u1", "managedFields": [{"manager": "kubectl"}]},
        },
        "requestReceivedTimestamp": "2026-11-27T10:00:00.000000Z",
        "stageTimestamp": "2026-11-27T10:00:00.010000Z",
        "annotations": {"authorization.k8s.io/decision": "allow"},
    }
    for key, value in overrides.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def line(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def policy(rules: list[dict[str, Any]], **top: Any) -> policy_mod.LoadedPolicy:
    return policy_mod.from_mapping({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules, **top})


def processor(rules: list[dict[str, Any]], config_yaml: str = "", **top: Any) -> Processor:
    cfg = config_mod.loads(config_yaml or "{}")
    return Processor(policy(rules, **top), cfg)


def run(proc: Processor, *records: bytes) -> Any:
    return proc.process(list(records), [f"test:{i + 1}" for i in range(len(records))])


def outputs(batch: Any) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in batch.events]
