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
_REQUIRED = frozenset(REQUIRED_FIELDS)
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


_decode_user = msgspec.json.Decoder(UserInfo).decode
_decode_objref = msgspec.json.Decoder(ObjectRef | None).decode
_CACHE_MAX = 4096

# Audit streams repeat themselves: a few levels, stages and verbs, and a few
# hundred users (kubelets, controllers). Their decoded values are cached by
# their raw bytes, which costs a copy of a few bytes and a hash instead of a
# decode. One cache per field, holding only values valid for that field: a
# verb "get" must not make a level "get" look checked.
_caches: dict[str, dict[bytes, Any]] = {"level": {}, "stage": {}, "verb": {}, "user": {}}


def _remember(cache: dict[bytes, Any], key: bytes, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()  # bounded: a stream of unique values must not grow memory
    cache[key] = value


def _small(fields: Fields, name: str, allowed: Any, path: str) -> str:
    raw = fields[name]
    key = bytes(raw)
    cache = _caches[name]
    value: str | None = cache.get(key)
    if value is not None:
        return value
    try:
        value = _decode_str(raw)
    except msgspec.ValidationError as exc:
        raise _Reject(ReasonCode.WRONG_TYPE, str(exc), f"{path}.{name}") from None
    if allowed is not None and value not in allowed:
        raise _Reject(ReasonCode.INVALID_VALUE, f"unknown {name} {value!r}", f"{path}.{name}")
    _remember(cache, key, value)
    return value


def _user(fields: Fields, path: str) -> tuple[str | None, tuple[str, ...]]:
    raw = fields["user"]
    key = bytes(raw)
    cache = _caches["user"]
    hit: tuple[str | None, tuple[str, ...]] | None = cache.get(key)
    if hit is not None:
        return hit
    try:
        user = _decode_user(raw)
    except msgspec.ValidationError as exc:
        message, at = _validation_path(exc, f"{path}.user")
        raise _Reject(ReasonCode.WRONG_TYPE, message, at) from None
    groups = tuple(user.groups) if user.groups else ()
    # `user: {}` is kube's nil user (failed authentication): no users/userGroups rule matches it.
    value = (user.username if (user.username or groups) else None, groups)
    _remember(cache, key, value)
    return value


def _string(fields: Fields, name: str, path: str) -> str:
    try:
        value: str = _decode_str(fields[name])
    except msgspec.ValidationError as exc:
        raise _Reject(ReasonCode.WRONG_TYPE, str(exc), f"{path}.{name}") from None
    return value


def _to_event(fields: Fields, raw: bytes, source: str, path: str) -> Event:
    if not _REQUIRED.issubset(fields):
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        names = ", ".join(f"`{n}`" for n in missing)
        raise _Reject(ReasonCode.MISSING_FIELD,
                      f"Object missing required field{'s' if len(missing) > 1 else ''} {names}", path)
    level = _small(fields, "level", LEVEL_RANK, path)
    stage = _small(fields, "stage", STAGES, path)
    verb = _small(fields, "verb", None, path)
    audit_id = _string(fields, "auditID", path)
    uri = _string(fields, "requestURI", path)
    username, groups = _user(fields, path)
    url_path = uri.partition("?")[0]
    ref_raw = fields.get("objectRef")
    ref = None
    if ref_raw is not None:
        try:
            ref = _decode_objref(ref_raw)
        except msgspec.ValidationError as exc:
            message, at = _validation_path(exc, f"{path}.objectRef")
            raise _Reject(ReasonCode.WRONG_TYPE, message, at) from None
    if ref is None:
        request = (username, groups, verb, "", "", "", "", "", url_path, False, level)
    else:
        request = (username, groups, verb, ref.namespace, ref.apiGroup, ref.resource,
                   ref.subresource, ref.name, url_path, True, level)
    return Event(fields, level, stage, verb, audit_id, request, raw, source)


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
        value: Fields | list[Raw] = _decode_top(data)
        return value
    except msgspec.ValidationError:
        raise _Reject(ReasonCode.NOT_AN_OBJECT, "Expected an object or an array", path) from None
    except msgspec.DecodeError as exc:
        raise _Reject(ReasonCode.INVALID_JSON, str(exc), path) from None
    except RecursionError:
        raise _Reject(ReasonCode.TOO_DEEP, "JSON nested too deeply", path) from None


def _from_msgpack(data: bytes) -> bytes:
    try:
        return _encode(msgspec.msgpack.decode(data))
    except UnicodeDecodeError as exc:
        raise _Reject(ReasonCode.INVALID_UTF8, f"MessagePack string is not UTF-8 ({exc.reason})", "$") from None
    except (msgspec.DecodeError, msgspec.EncodeError, TypeError, ValueError) as exc:
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
