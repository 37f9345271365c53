"""EKS: audit lines shipped through CloudWatch Logs.

EKS writes each apiserver audit line, unchanged, as the ``message`` of a
CloudWatch log event (log group ``/aws/eks/<cluster>/cluster``, streams
``kube-apiserver-audit-…``). A subscription filter pushes batches of them
(``{"messageType","owner","logGroup","logStream","logEvents":[…]}``, gzip,
base64 inside JSON) to Kinesis, Firehose or Lambda, and a bridge puts them on
Kafka in one of these wrappers:

* ``{"awslogs":{"data":…}}`` (a Lambda subscription event);
* ``{"records":[{"data":…}]}`` (Firehose, transform event or HTTP request);
* ``{"Records":[{"kinesis":{"data":…}}]}`` (a Lambda Kinesis trigger);
* the decoded batch itself, or one log event
  ``{"logStreamName","timestamp","message","ingestionTime","eventId"}``.

Control messages (destination health checks) are skipped, not dead-lettered.
A line longer than CloudWatch's event limit arrives cut, ending in
``[Truncated...]``: it is dead-lettered as ``truncated_by_platform`` with
what a prefix scan recovers (auditID, verb, requestURI).
"""

from __future__ import annotations

import re

import msgspec
from msgspec import Raw

from ..errors import ReasonCode
from ..model import Fields, decode_fields
from .base import EnvelopeError, Inner, ItemError, Skip, Unwrapped, array, obj, payload, text

TRUNCATED_MARKER = "[Truncated...]"
_EKS_GROUP = re.compile(r"^/aws/eks/([^/]+)/cluster$")
_PREFIX_FIELDS = {name: re.compile(rf'"{name}"\s*:\s*"([^"]*)"') for name in ("auditID", "verb", "requestURI")}


def recovered(line: str) -> str:
    """What a prefix scan finds in a cut-off event line, for the dead letter's message."""
    found = [f"{name}={m.group(1)}" for name, rx in _PREFIX_FIELDS.items() if (m := rx.search(line))]
    return ", ".join(found) or "nothing recognisable"


def _label(group: str, stream: str, event_id: str) -> str:
    eks = _EKS_GROUP.match(group)
    head = f"eks cluster={eks.group(1)}" if eks else f"cloudwatch logGroup={group}"
    return " ".join(
        p for p in (head, f"logStream={stream}" if stream else "", f"eventId={event_id}" if event_id else "") if p
    )


def _message(message: str, path: str, label: str) -> Unwrapped:
    if message.endswith(TRUNCATED_MARKER):
        return ItemError(
            ReasonCode.TRUNCATED_BY_PLATFORM,
            f"CloudWatch cut this audit line short; recovered {recovered(message)}",
            path,
            message.encode("utf-8", "surrogatepass"),
        )
    return Inner(message.encode("utf-8", "surrogatepass"), path, label)


def _batch(value: Fields, path: str) -> list[Unwrapped]:
    kind = text(value, "messageType")
    if kind == "CONTROL_MESSAGE":
        return [Skip("control_message")]
    if kind != "DATA_MESSAGE":
        raise EnvelopeError(ReasonCode.INVALID_VALUE, f"unknown CloudWatch messageType {kind!r}", f"{path}.messageType")
    events = array(value, "logEvents")
    if events is None:
        raise EnvelopeError(ReasonCode.WRONG_TYPE, "Expected `array`", f"{path}.logEvents")
    group, stream = text(value, "logGroup") or "", text(value, "logStream") or ""
    out: list[Unwrapped] = []
    for i, raw in enumerate(events):
        where = f"{path}.logEvents[{i}]"
        event = _fields(raw)
        message = None if event is None else text(event, "message")
        if event is None or message is None:
            out.append(ItemError(ReasonCode.WRONG_TYPE, "a log event needs a string `message`", where, bytes(raw)))
            continue
        out.append(_message(message, f"{where}.message", _label(group, stream, text(event, "id") or "")))
    return out


def _fields(raw: Raw) -> Fields | None:
    try:
        return decode_fields(raw)
    except msgspec.ValidationError:  # not an object: reported by the caller as a wrong type
        return None


def _data_items(items: list[Raw], path: str, limit: int, inner_key: str | None) -> list[Unwrapped]:
    out: list[Unwrapped] = []
    for i, raw in enumerate(items):
        where = f"{path}[{i}]"
        item = _fields(raw)
        holder = item if inner_key is None or item is None else obj(item, inner_key)
        data = None if holder is None else text(holder, "data")
        data_path = f"{where}.{inner_key}.data" if inner_key else f"{where}.data"
        if data is None:
            out.append(ItemError(ReasonCode.WRONG_TYPE, "a record needs a string `data`", where, bytes(raw)))
            continue
        try:
            out.append(Inner(payload(data, limit, data_path), data_path, ""))
        except EnvelopeError as exc:
            out.append(ItemError(exc.code, exc.message, exc.path, bytes(raw)))
    return out


def unwrap(value: Fields, path: str, limit: int) -> list[Unwrapped] | None:
    """The CloudWatch-borne content of ``value``, or None if it is not such an envelope."""
    if "messageType" in value and "logEvents" in value:
        return _batch(value, path)
    if "awslogs" in value:
        wrapper = obj(value, "awslogs")
        data = None if wrapper is None else text(wrapper, "data")
        if data is None:
            raise EnvelopeError(ReasonCode.WRONG_TYPE, "Expected `{data: string}`", f"{path}.awslogs")
        return [Inner(payload(data, limit, f"{path}.awslogs.data"), f"{path}.awslogs.data", "")]
    if "Records" in value:
        records = array(value, "Records")
        if records is not None and records and b'"kinesis"' in bytes(records[0]):
            return _data_items(records, f"{path}.Records", limit, "kinesis")
        return None
    if "records" in value:
        records = array(value, "records")
        if (
            records is not None
            and records
            and b'"data"' in bytes(records[0])
            and b'"category"' not in bytes(records[0])
        ):
            return _data_items(records, f"{path}.records", limit, None)
        return None
    if "logStreamName" in value and "message" in value:
        message = text(value, "message")
        if message is None:
            raise EnvelopeError(ReasonCode.WRONG_TYPE, "Expected `str`", f"{path}.message")
        return [
            _message(
                message, f"{path}.message", _label("", text(value, "logStreamName") or "", text(value, "eventId") or "")
            )
        ]
    return None
