"""OpenShift Logging: ViaQ audit records and OTLP/JSON log envelopes.

The cluster logging forwarder (Vector) parses each apiserver audit line,
merges the event into the root of its record and adds its own keys
(``@timestamp``, ``timestamp``, ``hostname``, ``log_type``, ``log_source``,
``openshift``, ``k8s_audit_level`` / ``openshift_audit_level``, and in older
collectors ``tag``, ``viaq_*``, ``pipeline_metadata``). Some versions also
overwrite ``level`` with ``"default"``; the audit level is restored from
``k8s_audit_level``. Records from ``auditd`` and ``ovn`` are ``log_type:
audit`` too but are not Kubernetes events: skipped as not audit.

Its OTLP output (and the OpenTelemetry Collector's ``otlp_json`` Kafka
encoding) wraps raw audit lines as ``resourceLogs[].scopeLogs[].logRecords[]
.body.stringValue``.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from ..errors import ReasonCode
from ..model import LEVELS, Fields, encode
from .base import Built, EnvelopeError, Inner, ItemError, Skip, Unwrapped, obj, text

# Keys the forwarder adds to the event; everything else is the event's own.
ADDED_KEYS = frozenset(
    (
        "@timestamp",
        "timestamp",
        "hostname",
        "log_type",
        "log_source",
        "openshift",
        "k8s_audit_level",
        "openshift_audit_level",
        "source_type",
        "tag",
        "viaq_msg_id",
        "viaq_index_name",
        "pipeline_metadata",
        "kubernetes",
        "message",
    )
)
_NOT_KUBERNETES = frozenset(("auditd", "ovn"))


def _viaq(value: Fields, path: str) -> Unwrapped:
    source = text(value, "log_source") or ""
    if source in _NOT_KUBERNETES:
        return Skip("not_audit")
    fields = {k: v for k, v in value.items() if k not in ADDED_KEYS}
    level = text(value, "level")
    if level not in LEVELS:
        restored = text(value, "k8s_audit_level") or text(value, "openshift_audit_level")
        if restored is None:
            raise EnvelopeError(
                ReasonCode.INVALID_VALUE, f"level {level!r} and no k8s_audit_level to restore it from", f"{path}.level"
            )
        fields["level"] = Raw(encode(restored))
    parts = ["openshift"]
    openshift = obj(value, "openshift")
    cluster = None if openshift is None else text(openshift, "cluster_id")
    for name, item in (("cluster_id", cluster), ("hostname", text(value, "hostname")), ("log_source", source)):
        if item:
            parts.append(f"{name}={item}")
    return Built(fields, path, " ".join(parts), "")


def _otlp(value: Fields, path: str) -> list[Unwrapped]:
    try:
        request = msgspec.json.decode(encode(value))
    except msgspec.DecodeError:  # pragma: no cover - re-encoding decoded JSON cannot fail
        raise EnvelopeError(ReasonCode.INVALID_JSON, "unreadable OTLP envelope", path) from None
    out: list[Unwrapped] = []
    for i, resource_logs in enumerate(request.get("resourceLogs") or []):
        attributes = {
            a.get("key"): (a.get("value") or {}).get("stringValue")
            for a in ((resource_logs.get("resource") or {}).get("attributes") or [])
            if isinstance(a, dict)
        }
        label = " ".join(
            ["openshift-otlp"]
            + [
                f"{k}={attributes[k]}"
                for k in ("openshift.cluster.uid", "k8s.node.name", "openshift.log.source")
                if isinstance(attributes.get(k), str)
            ]
        )
        for j, scope in enumerate(resource_logs.get("scopeLogs") or []):
            for k, record in enumerate(scope.get("logRecords") or []):
                where = f"{path}.resourceLogs[{i}].scopeLogs[{j}].logRecords[{k}].body.stringValue"
                body = (record.get("body") or {}).get("stringValue") if isinstance(record, dict) else None
                if not isinstance(body, str):
                    out.append(ItemError(ReasonCode.WRONG_TYPE, "Expected a string body", where, encode(record)))
                    continue
                out.append(Inner(body.encode("utf-8", "surrogatepass"), where, label))
    return out


def unwrap(value: Fields, path: str, limit: int) -> list[Unwrapped] | None:
    """Events in a ViaQ record or an OTLP/JSON envelope, or None."""
    if "log_type" in value:
        if text(value, "log_type") != "audit":
            return [Skip("not_audit")]
        return [_viaq(value, path)]
    if "resourceLogs" in value:
        return _otlp(value, path)
    return None
