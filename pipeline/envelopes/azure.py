"""AKS: diagnostic settings to Event Hubs (read through its Kafka endpoint).

An Event Hubs event is ``{"records":[record, …]}``, each record an Azure
resource-log record. Audit events travel in categories ``kube-audit`` and
``kube-audit-admin`` as ``properties.log``: the apiserver's line as a string
(with or without a trailing newline) or, in some exports, already an object.
Other categories (klog text of the apiserver, scheduler, …) share the hub and
are skipped as not audit. AKS cuts ``properties.log`` at 16 KiB; such a line
is dead-lettered as ``truncated_by_platform`` with what a prefix scan
recovers.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw

from ..errors import ReasonCode
from ..model import Fields, decode_fields
from .aws import recovered
from .base import EnvelopeError, Inner, ItemError, Skip, Unwrapped, array, obj, text

AKS_LOG_CUT = 16 * 1024
_AUDIT_CATEGORIES = ("kube-audit", "kube-audit-admin")


def _label(record: Fields, category: str, properties: Fields) -> str:
    parts = ["aks"]
    resource_id = (text(record, "resourceId") or "").lower().strip("/").split("/")
    pairs = dict(zip(resource_id[::2], resource_id[1::2]))
    for key, name in (
        ("managedclusters", "cluster"),
        ("resourcegroups", "resourceGroup"),
        ("subscriptions", "subscription"),
    ):
        if key in pairs:
            parts.append(f"{name}={pairs[key]}")
    parts.append(f"category={category}")
    pod = text(properties, "pod")
    if pod:
        parts.append(f"pod={pod}")
    return " ".join(parts)


def _record(record: Fields, path: str, raw: bytes) -> Unwrapped:
    category = text(record, "category") or ""
    if category not in _AUDIT_CATEGORIES:
        return Skip("not_audit")
    properties = obj(record, "properties")
    log_raw = None if properties is None else properties.get("log")
    if properties is None or log_raw is None:
        return ItemError(ReasonCode.MISSING_FIELD, "a kube-audit record needs `properties.log`", path, raw)
    where = f"{path}.properties.log"
    label = _label(record, category, properties)
    if bytes(memoryview(log_raw)[:1]) == b"{":  # the event already as an object
        return Inner(bytes(log_raw), where, label)
    try:
        line = msgspec.json.decode(log_raw, type=str)
    except msgspec.ValidationError:
        return ItemError(ReasonCode.WRONG_TYPE, "Expected `str` or `object`", where, raw)
    if line.endswith("\n"):
        line = line[:-1]
    if len(line) >= AKS_LOG_CUT - 64 and not line.rstrip().endswith("}"):
        return ItemError(
            ReasonCode.TRUNCATED_BY_PLATFORM,
            f"AKS cut this audit line at {len(line)} characters; recovered {recovered(line)}",
            where,
            raw,
        )
    return Inner(line.encode("utf-8", "surrogatepass"), where, label)


def _items(records: list[Raw], path: str) -> list[Unwrapped]:
    out: list[Unwrapped] = []
    for i, raw in enumerate(records):
        where = f"{path}[{i}]"
        try:
            record = decode_fields(raw)
        except msgspec.ValidationError:
            out.append(ItemError(ReasonCode.NOT_AN_OBJECT, "Expected `object`", where, bytes(raw)))
            continue
        out.append(_record(record, where, bytes(raw)))
    return out


def unwrap(value: Fields, path: str, limit: int) -> list[Unwrapped] | None:
    """The audit events of an Azure resource-log envelope, or None if it is not one."""
    if "records" in value:
        records = array(value, "records")
        if records is None:
            raise EnvelopeError(ReasonCode.WRONG_TYPE, "Expected `array`", f"{path}.records")
        if records and b'"category"' not in bytes(records[0]):
            return None
        return _items(records, f"{path}.records")
    if "category" in value and "properties" in value:
        return [_record(value, path, b"")]
    return None
