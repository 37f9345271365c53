"""Decode audit events from every shape that reaches Kafka or a file.

One record (a Kafka message value, or a line of a file) can hold:

* a raw apiserver event line (``audit.k8s.io/v1`` or ``v1beta1``);
* a Fluent Bit envelope ``{"@timestamp": ..., "log": "<event line>"}``;
* a Fluent Bit flattened event, ``@timestamp`` prepended as the first key;
* a container-log envelope (``time``, ``stream``, ``_p``/``logtag``, ``log``
  or ``message``, maybe a ``kubernetes`` map) whose log is the event line;
* a webhook ``EventList`` (its items carry no kind/apiVersion);
* a JSON array of events or EventLists;
* the same in MessagePack (Fluent Bit ``out_kafka format msgpack``).

The shape is sniffed per record, never taken from configuration.

An event is kept as ``dict[str, msgspec.Raw]``: every top-level field of the
input, in order, modelled or not, with its value as the original bytes. Only
the few fields the policy looks at are decoded into Python values, so bodies
travel untouched and an output event loses nothing the policy does not
remove.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw

from .errors import ReasonCode, RecordError

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
STAGES = frozenset(("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"))
REQUIRED_FIELDS = ("level", "auditID", "stage", "requestURI", "verb", "user")
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024

Fields = dict[str, Raw]


class UserInfo(msgspec.Struct):
    username: str = ""
    groups: list[str] | None = None


class ObjectRef(msgspec.Struct):
    resource: str = ""
    namespace: str = ""
    name: str = ""
    apiGroup: str = ""
    subresource: str = ""


_decode_top = msgspec.json.Decoder(dict[str, Raw] | list[Raw]).decode
_decode_object = msgspec.json.Decoder(dict[str, Raw]).decode
_decode_str = msgspec.json.Decoder(str).decode
_decode_items = msgspec.json.Decoder(list[Raw]).decode
_encode = msgspec.json.encode


class Event:
    """One audit event: its raw fields plus what the policy matches on.

    ``request`` is the builtins-only tuple the ``_fastmatch`` matcher takes.
    """

    __slots__ = ("fields", "level", "stage", "verb", "audit_id", "request", "raw", "source")

    def __init__(self, fields: Fields, level: str, stage: str, verb: str, audit_id: str,
                 request: tuple[Any, ...], raw: bytes, source: str) -> None:
        self.fields = fields
        self.level = level
        self.stage = stage
        self.verb = verb
        self.audit_id = audit_id
        self.request = request
        self.raw = raw
        self.source = source


class _Reject(Exception):
    """Internal: carries a reason out of the nested decoders."""

    def __init__(self, code: ReasonCode, message: str, path: str) -> None:
        self.code, self.message, self.path = code, message, path


def _validation_path(exc: msgspec.ValidationError, prefix: str) -> tuple[str, str]:
    # msgspec appends " - at `$.x`" relative to what it decoded; rebase it.
    text = str(exc)
    message, sep, where = text.partition(" - at `$")
    if sep:
        return message, prefix + where.rstrip("`")
    return text, prefix


class _Head(msgspec.Struct):
    """The fields the policy looks at, decoded in one call."""

    level: str
    auditID: str
    stage: str
    requestURI: str
    verb: str
    user: UserInfo
    objectRef: ObjectRef | None = None


_decode_head = msgspec.json.Decoder(_Head).decode
_HEAD_KEYS = (b'{"level":', b',"auditID":', b',"stage":', b',"requestURI":', b',"verb":', b',"user":')


def _to_event(fields: Fields, raw: bytes, source: str, path: str) -> Event:
    try:
        # One small document of just the matched fields, built from their raw
        # bytes: one decode call instead of one per field, with msgspec's own
        # error paths ($.user.groups[1]) still right.
        parts = [_HEAD_KEYS[0], fields["level"], _HEAD_KEYS[1], fields["auditID"], _HEAD_KEYS[2],
                 fields["stage"], _HEAD_KEYS[3], fields["requestURI"], _HEAD_KEYS[4], fields["verb"],
                 _HEAD_KEYS[5], fields["user"]]
    except KeyError:
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        names = ", ".join(f"`{n}`" for n in missing)
        raise _Reject(ReasonCode.MISSING_FIELD,
                      f"Object missing required field{'s' if len(missing) > 1 else ''} {names}", path) from None
    ref_raw = fields.get("objectRef")
    if ref_raw is not None:
        parts += (b',"objectRef":', ref_raw)
    parts.append(b"}")
    try:
        head = _decode_head(b"".join(parts))
    except msgspec.ValidationError as exc:
        message, at = _validation_path(exc, path)
        raise _Reject(ReasonCode.WRONG_TYPE, message, at) from None
    level = head.level
    if level not in LEVEL_RANK:
        raise _Reject(ReasonCode.INVALID_VALUE, f"unknown level {level!r}", f"{path}.level")
    stage = head.stage
    if stage not in STAGES:
        raise _Reject(ReasonCode.INVALID_VALUE, f"unknown stage {stage!r}", f"{path}.stage")
    user = head.user
    groups = tuple(user.groups) if user.groups else ()
    # `user: {}` is kube's nil user (failed authentication): no users/userGroups rule matches it.
    username = user.username if (user.username or groups) else None
    url_path = head.requestURI.partition("?")[0]
    ref = head.objectRef
    verb = head.verb
    if ref is None:
        request = (username, groups, verb, "", "", "", "", "", url_path, False, level)
    else:
        request = (username, groups, verb, ref.namespace, ref.apiGroup, ref.resource,
                   ref.subresource, ref.name, url_path, True, level)
    return Event(fields, level, stage, verb, head.auditID, request, raw, source)


_EVENT_KEYS = frozenset(("auditID", "stage", "requestURI", "verb", "level", "user", "objectRef",
                         "stageTimestamp", "requestReceivedTimestamp", "responseStatus"))


def _is_event(fields: Fields) -> bool:
    # Any event key makes it an event, so a partial event is reported as
    # missing fields rather than as an unknown shape.
    return not _EVENT_KEYS.isdisjoint(fields)


def _envelope_line(fields: Fields, path: str) -> tuple[bytes, str] | None:
    """The event line inside a Fluent Bit or container-log envelope, if any."""
    for key in ("log", "message"):
        if key in fields:
            try:
                line = _decode_str(fields[key])
            except msgspec.ValidationError:
                if key == "log":
                    raise _Reject(ReasonCode.WRONG_TYPE, "Expected `str` (the event line)", f"{path}.{key}") from None
                continue
            return line.encode("utf-8", "surrogatepass"), f"{path}.{key}"
    return None


def _check_utf8(data: bytes) -> None:
    if data.isascii():  # the common case costs no allocation
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Reject(ReasonCode.INVALID_UTF8, f"invalid UTF-8 ({exc.reason}) at byte {exc.start}", "$") from None


def _decode_json(data: bytes, path: str) -> Fields | list[Raw]:
    try:
        return _decode_top(data)
    except msgspec.ValidationError:
        raise _Reject(ReasonCode.NOT_AN_OBJECT, "Expected an object or an array", path) from None
    except msgspec.DecodeError as exc:
        raise _Reject(ReasonCode.INVALID_JSON, str(exc), path) from None
    except RecursionError:
        raise _Reject(ReasonCode.TOO_DEEP, "JSON nested too deeply", path) from None


def _from_msgpack(data: bytes) -> bytes:
    try:
        return _encode(msgspec.msgpack.decode(data))
    except (msgspec.DecodeError, msgspec.EncodeError, TypeError) as exc:
        raise _Reject(ReasonCode.INVALID_JSON, f"MessagePack record could not be read: {exc}", "$") from None
    except RecursionError:
        raise _Reject(ReasonCode.TOO_DEEP, "MessagePack nested too deeply", "$") from None


def _walk(data: bytes, path: str, depth: int, raw: bytes, source: str,
          events: list[Event], errors: list[RecordError]) -> None:
    """Sniff one value's shape and append the events (or errors) it holds."""
    if depth > 3:
        raise _Reject(ReasonCode.UNKNOWN_SHAPE, "envelopes nested too deeply", path)
    value = _decode_json(data, path)
    if isinstance(value, list):
        for i, item in enumerate(value):
            _walk_item(bytes(item), f"{path}[{i}]", depth + 1, source, events, errors)
        return
    if _is_event(value):
        events.append(_to_event(value, raw, source, path))
        return
    if "items" in value:  # a webhook EventList
        try:
            items = _decode_items(value["items"])
        except msgspec.ValidationError:
            raise _Reject(ReasonCode.WRONG_TYPE, "Expected `array`", f"{path}.items") from None
        for i, item in enumerate(items):
            _walk_item(bytes(item), f"{path}.items[{i}]", depth + 1, source, events, errors)
        return
    inner = _envelope_line(value, path)
    if inner is not None:
        _walk(inner[0], inner[1], depth + 1, raw, source, events, errors)
        return
    keys = ", ".join(list(value)[:5])
    raise _Reject(ReasonCode.UNKNOWN_SHAPE,
                  f"not an audit event, EventList or log envelope (keys: {keys or 'none'})", path)


def _walk_item(item: bytes, path: str, depth: int, source: str,
               events: list[Event], errors: list[RecordError]) -> None:
    # One bad item of a list is one dead letter holding that item only, so a
    # replay of the dead letter cannot duplicate the good items.
    try:
        _walk(item, path, depth, item, source, events, errors)
    except _Reject as r:
        errors.append(RecordError(r.code, r.message, r.path, item, source))


def decode_record(data: bytes, source: str, events: list[Event], errors: list[RecordError],
                  max_bytes: int = DEFAULT_MAX_RECORD_BYTES) -> None:
    """Decode one record into ``events``; anything unreadable goes to ``errors``.

    Never raises for bad input.
    """
    try:
        if len(data) > max_bytes:
            raise _Reject(ReasonCode.TOO_LARGE, f"record is {len(data)} bytes, over the limit of {max_bytes}", "$")
        first = data.lstrip()[:1]
        if not first:
            raise _Reject(ReasonCode.EMPTY, "empty record", "$")
        if first[0] >= 0x80:  # a MessagePack map: fixmap 0x80-0x8f, map16 0xde, map32 0xdf
            if first[0] <= 0x8F or first[0] in (0xDE, 0xDF):
                _walk(_from_msgpack(data), "$", 0, data, source, events, errors)
                return
        _check_utf8(data)
        _walk(data, "$", 0, data, source, events, errors)
    except _Reject as r:
        errors.append(RecordError(r.code, r.message, r.path, data, source))
