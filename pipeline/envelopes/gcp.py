"""GKE: Cloud Logging ``LogEntry`` records (through a Pub/Sub sink) rebuilt as Events.

GKE does not keep the apiserver's Event: Cloud Audit Logs translates it into
a ``LogEntry`` whose ``protoPayload`` is a ``google.cloud.audit.AuditLog``.
This module maps it back, as Falco's k8saudit-gke plugin does, with these
differences on purpose: the HTTP status comes from ``protoPayload.status``
(a denied request stays denied), the core group is the empty API group, and
the group, namespace, name and subresource come from ``resourceName`` (the
verb from ``methodName``).

What does not map, and how each event says so (annotation ``synthesized``):

* ``user.groups``, ``user.uid``, ``user.extra`` and impersonation are not in a
  LogEntry: a policy rule on ``userGroups`` never matches a GKE event;
* ``stage`` is always ``ResponseComplete`` (one entry per request);
* ``level`` is inferred: RequestResponse with a response body, Request with
  only a request body, else Metadata;
* ``requestURI`` is rebuilt without its query string (``?watch=true``);
* ``responseStatus.code`` comes from gRPC codes, so it is approximate.

Entries of other services (``container.googleapis.com`` cluster operations)
are skipped as not audit. A Pub/Sub push wrapper
(``{"message":{"data":…},"subscription":…}``) is unwrapped first.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw

from ..errors import ReasonCode
from ..model import AUDIT_V1, Fields, encode
from .base import Built, EnvelopeError, Inner, Skip, Unwrapped, obj, payload, text

SYNTHESIZED = "stage,level,requestURI,responseStatus,user.groups"
# google.rpc.Code -> HTTP status, as grpc-gateway maps them.
GRPC_TO_HTTP = {
    0: 200,
    1: 499,
    2: 500,
    3: 400,
    4: 504,
    5: 404,
    6: 409,
    7: 403,
    8: 429,
    9: 400,
    10: 409,
    11: 400,
    12: 501,
    13: 500,
    14: 503,
    15: 500,
    16: 401,
}

_decode_any = msgspec.json.Decoder().decode


def _ref(method: str, resource_name: str) -> tuple[dict[str, str] | None, str]:
    """(objectRef, requestURI) from ``methodName`` and ``resourceName``."""
    if method.count(".") == 2:  # io.k8s.<verb>: a non-resource request
        return None, "/" + resource_name
    seg = resource_name.split("/")
    if len(seg) < 3:
        raise EnvelopeError(
            ReasonCode.INVALID_VALUE, f"unexpected resourceName {resource_name!r}", "$.protoPayload.resourceName"
        )
    group = "" if seg[0] == "core" else seg[0]
    version, rest = seg[1], seg[2:]
    parts = method.split(".")
    resource_in_method = parts[parts.index(version) + 1] if version in parts[:-1] else ""
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3 and resource_in_method != "namespaces":
        namespace, rest = rest[1], rest[2:]
    ref = {
        "resource": rest[0],
        "namespace": namespace,
        "name": rest[1] if len(rest) > 1 else "",
        "apiGroup": group,
        "apiVersion": version,
        "subresource": rest[2] if len(rest) > 2 else "",
    }
    uri = [f"/api/{version}" if not group else f"/apis/{group}/{version}"]
    if namespace:
        uri.append(f"/namespaces/{namespace}")
    uri.extend(f"/{p}" for p in rest[:3])
    return {k: v for k, v in ref.items() if v}, "".join(uri)


def _status(payload_: dict[str, Any], verb: str) -> dict[str, Any]:
    response = payload_.get("response")
    if isinstance(response, dict) and response.get("kind") == "Status" and isinstance(response.get("code"), int):
        status: dict[str, Any] = {"metadata": {}, "code": response["code"]}
        for key in ("status", "message", "reason"):
            if isinstance(response.get(key), str):
                status[key] = response[key]
        return status
    rpc: dict[str, Any] = payload_["status"] if isinstance(payload_.get("status"), dict) else {}
    code = rpc.get("code", 0) if isinstance(rpc.get("code", 0), int) else 2
    if code == 0:
        return {"metadata": {}, "code": 201 if verb == "create" else 200}
    out: dict[str, Any] = {"metadata": {}, "status": "Failure", "code": GRPC_TO_HTTP.get(code, 500)}
    if isinstance(rpc.get("message"), str):
        out["message"] = rpc["message"]
    return out


def _body(value: Any) -> Any:
    # The LogEntry adds the protobuf type name as "@type": not part of the object.
    return {k: v for k, v in value.items() if k != "@type"} if isinstance(value, dict) else value


def _label(entry: dict[str, Any]) -> str:
    resource: dict[str, Any] = entry["resource"] if isinstance(entry.get("resource"), dict) else {}
    labels: dict[str, Any] = resource["labels"] if isinstance(resource.get("labels"), dict) else {}
    parts = ["gke"]
    for key, name in (("project_id", "project"), ("location", "location"), ("cluster_name", "cluster")):
        if isinstance(labels.get(key), str):
            parts.append(f"{name}={labels[key]}")
    log_name = entry.get("logName") if isinstance(entry.get("logName"), str) else ""
    if log_name:
        parts.append(f"log={log_name.rsplit('%2F', 1)[-1]}")
    if isinstance(entry.get("insertId"), str):
        parts.append(f"insertId={entry['insertId']}")
    return " ".join(parts)


def _event(entry: dict[str, Any], path: str) -> Unwrapped:
    p: Any = entry["protoPayload"]
    if not isinstance(p, dict) or p.get("serviceName") != "k8s.io":
        return Skip("not_audit")
    method, resource_name = p.get("methodName"), p.get("resourceName")
    if not isinstance(method, str) or not isinstance(resource_name, str):
        raise EnvelopeError(
            ReasonCode.MISSING_FIELD, "a k8s.io AuditLog needs methodName and resourceName", f"{path}.protoPayload"
        )
    verb = method.rsplit(".", 1)[-1]
    ref, uri = _ref(method, resource_name)
    auth: dict[str, Any] = p["authenticationInfo"] if isinstance(p.get("authenticationInfo"), dict) else {}
    meta: dict[str, Any] = p["requestMetadata"] if isinstance(p.get("requestMetadata"), dict) else {}
    when = entry.get("timestamp")
    event: dict[str, Any] = {
        "kind": "Event",
        "apiVersion": AUDIT_V1,
        "level": "RequestResponse" if "response" in p else "Request" if "request" in p else "Metadata",
        "auditID": entry.get("insertId") or (entry.get("operation") or {}).get("id") or "",
        "stage": "ResponseComplete",
        "requestURI": uri,
        "verb": verb,
        "user": {"username": auth.get("principalEmail", "")},
        "sourceIPs": [meta["callerIp"]] if isinstance(meta.get("callerIp"), str) else [],
        "userAgent": meta.get("callerSuppliedUserAgent", ""),
    }
    if ref is not None:
        event["objectRef"] = ref
    event["responseStatus"] = _status(p, verb)
    if "request" in p:
        event["requestObject"] = _body(p["request"])
    if "response" in p:
        event["responseObject"] = _body(p["response"])
    event["requestReceivedTimestamp"] = event["stageTimestamp"] = when if isinstance(when, str) else ""
    if isinstance(entry.get("labels"), dict):
        event["annotations"] = entry["labels"]
    fields = {key: Raw(encode(value)) for key, value in event.items()}
    return Built(fields, path, _label(entry), SYNTHESIZED)


def unwrap(value: Fields, path: str, limit: int) -> list[Unwrapped] | None:
    """Events in a GKE LogEntry or a Pub/Sub push wrapper, or None."""
    if "protoPayload" in value:
        entry = _decode_any(encode(value))
        return [_event(entry, path)]
    if "message" in value and "subscription" in value:
        message = obj(value, "message")
        data = None if message is None else text(message, "data")
        if data is None:
            raise EnvelopeError(ReasonCode.WRONG_TYPE, "Expected `{data: string}`", f"{path}.message")
        return [Inner(payload(data, limit, f"{path}.message.data"), f"{path}.message.data", "")]
    return None
