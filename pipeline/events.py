"""An audit event as the pipeline carries it, and how one is read from its members.

An event is kept as ``dict[str, msgspec.Raw]``: every top-level member of the
input, in order, modelled or not, with its value as the original bytes. Only
the few fields the policy looks at are decoded into Python values, so bodies
travel untouched and an output event loses nothing the policy does not
remove. (Finding events in a record, whatever its shape, is decode.py's job.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

import msgspec
from msgspec import Raw

from .errors import ReasonCode
from .model import (
    AUDIT_VERSIONS,
    LEVEL_RANK,
    REQUIRED_FIELDS,
    STAGE_SET,
    Fields,
    decode_str,
    encode,
)

if TYPE_CHECKING:
    from _fastmatch._scan import ScannedEvent

_REQUIRED = frozenset(REQUIRED_FIELDS)
DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024
_KIND_EVENT = Raw(b'"Event"')
_API_VERSION_RAW = {v: Raw(encode(v)) for v in AUDIT_VERSIONS}


class UserInfo(msgspec.Struct):
    username: str = ""
    groups: list[str] | None = None


class ObjectRef(msgspec.Struct):
    resource: str = ""
    namespace: str = ""
    name: str = ""
    apiGroup: str = ""
    subresource: str = ""


class Event:
    """One audit event: its raw fields plus what the policy matches on.

    ``request`` is the builtins-only tuple the ``_fastmatch`` matcher takes.
    """

    __slots__ = ("audit_id", "envelope", "fields", "level", "raw", "request", "source", "stage", "synthesized", "verb")

    def __init__(
        self,
        fields: Fields,
        level: str,
        stage: str,
        verb: str,
        audit_id: str,
        request: tuple[Any, ...],
        raw: bytes,
        source: str,
        envelope: str = "",
        synthesized: str = "",
    ) -> None:
        self.fields = fields
        self.level = level
        self.stage = stage
        self.verb = verb
        self.audit_id = audit_id
        self.request = request
        self.raw = raw
        self.source = source
        # The platform envelope it came out of ("eks cluster=… logStream=…"), and the
        # fields rebuilt rather than recorded (GKE): both become annotations.
        self.envelope = envelope
        self.synthesized = synthesized


# An event as the pipeline carries it: the reference view above, or the compiled
# scanner's (``_fastmatch._scan.ScannedEvent``: the same attributes but ``fields``).
AnyEvent: TypeAlias = "Event | ScannedEvent"


class Reject(Exception):
    """Internal: carries a reason out of the nested decoders."""

    def __init__(self, code: ReasonCode, message: str, path: str) -> None:
        self.code, self.message, self.path = code, message, path


def validation_path(exc: msgspec.ValidationError, prefix: str) -> tuple[str, str]:
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


# (level, stage, verb) by their raw values joined with commas: the values are
# whole JSON texts, so the joined bytes name one triple. Only checked triples
# go in (by _to_event_checked), so a hit needs no check.
_heads: dict[bytes, tuple[str, str, str]] = {}
_user_cache = _caches["user"]
# auditID, requestURI and objectRef (or null) as one JSON array: one decode instead of three.
_decode_tail = msgspec.json.Decoder(tuple[str, str, ObjectRef | None]).decode
_NULL = b"null"


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
        value = decode_str(raw)
    except msgspec.ValidationError as exc:
        raise Reject(ReasonCode.WRONG_TYPE, str(exc), f"{path}.{name}") from None
    if allowed is not None and value not in allowed:
        raise Reject(ReasonCode.INVALID_VALUE, f"unknown {name} {value!r}", f"{path}.{name}")
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
        message, at = validation_path(exc, f"{path}.user")
        raise Reject(ReasonCode.WRONG_TYPE, message, at) from None
    groups = tuple(user.groups) if user.groups else ()
    # `user: {}` is kube's nil user (failed authentication): no users/userGroups rule matches it.
    value = (user.username if (user.username or groups) else None, groups)
    _remember(cache, key, value)
    return value


def _string(fields: Fields, name: str, path: str) -> str:
    try:
        value: str = decode_str(fields[name])
    except msgspec.ValidationError as exc:
        raise Reject(ReasonCode.WRONG_TYPE, str(exc), f"{path}.{name}") from None
    return value


def _self_describing(fields: Fields, api_version: str) -> Fields:
    # Webhook EventList items (and some re-serialised logs) carry no kind or
    # apiVersion: every output event names them, first, as the apiserver writes them.
    out: Fields = {
        "kind": fields.get("kind", _KIND_EVENT),
        "apiVersion": fields.get("apiVersion", _API_VERSION_RAW[api_version]),
    }
    out.update(fields)
    return out


# level, stage, verb, auditID, requestURI, username, groups, objectRef
_Parts = tuple[str, str, str, str, str, str | None, tuple[str, ...], ObjectRef | None]


def to_event(
    fields: Fields, raw: bytes, source: str, path: str, api_version: str, envelope: str = "", synthesized: str = ""
) -> Event:
    """The event in ``fields``; raises ``Reject`` (the first problem, in field order) if it is not one.

    Nearly every event is well formed and repeats a level, stage, verb and user
    seen before, so they are looked up by their raw bytes and the rest
    (auditID, requestURI, objectRef) is read in one decode of the three values
    joined into an array. Anything else (a first sighting, a missing or bad
    field) goes through ``_checked``, which reads field by field: it alone
    decides the error, so the fast path cannot change one.
    """
    tail = head = user = None
    # A KeyError is a missing required field (all six are read here), a decode
    # error a bad value: either way the checked path finds and reports it.
    try:
        head = _heads.get(b",".join((fields["level"], fields["stage"], fields["verb"])))
        user = _user_cache.get(bytes(fields["user"]))
        if head is not None and user is not None:
            ref_raw = fields.get("objectRef")
            joined = (b"[", fields["auditID"], b",", fields["requestURI"], b",", ref_raw or _NULL, b"]")
            tail = _decode_tail(b"".join(joined))
    except (KeyError, msgspec.DecodeError, RecursionError):
        pass
    if tail is None or head is None or user is None:
        level, stage, verb, audit_id, uri, username, groups, ref = _checked(fields, path)
    else:
        level, stage, verb = head
        audit_id, uri, ref = tail
        username, groups = user
    url_path = uri.partition("?")[0]
    if ref is None:
        request = (username, groups, verb, "", "", "", "", "", url_path, False, level)
    else:
        request = (
            username,
            groups,
            verb,
            ref.namespace,
            ref.apiGroup,
            ref.resource,
            ref.subresource,
            ref.name,
            url_path,
            True,
            level,
        )
    if "apiVersion" not in fields or "kind" not in fields:
        fields = _self_describing(fields, api_version)
    return Event(fields, level, stage, verb, audit_id, request, raw, source, envelope, synthesized)


def _checked(fields: Fields, path: str) -> _Parts:
    """What to_event needs, field by field in a fixed order, the first problem raised as a ``Reject``."""
    if not _REQUIRED.issubset(fields):
        missing = [name for name in REQUIRED_FIELDS if name not in fields]
        names = ", ".join(f"`{n}`" for n in missing)
        raise Reject(
            ReasonCode.MISSING_FIELD, f"Object missing required field{'s' if len(missing) > 1 else ''} {names}", path
        )
    level = _small(fields, "level", LEVEL_RANK, path)
    stage = _small(fields, "stage", STAGE_SET, path)
    verb = _small(fields, "verb", None, path)
    _remember(_heads, b",".join((fields["level"], fields["stage"], fields["verb"])), (level, stage, verb))
    audit_id = _string(fields, "auditID", path)
    uri = _string(fields, "requestURI", path)
    username, groups = _user(fields, path)
    ref_raw = fields.get("objectRef")
    ref = None
    if ref_raw is not None:
        try:
            ref = _decode_objref(ref_raw)
        except msgspec.ValidationError as exc:
            message, at = validation_path(exc, f"{path}.objectRef")
            raise Reject(ReasonCode.WRONG_TYPE, message, at) from None
    return level, stage, verb, audit_id, uri, username, groups, ref


_EVENT_KEYS = frozenset(
    (
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "level",
        "user",
        "objectRef",
        "stageTimestamp",
        "requestReceivedTimestamp",
        "responseStatus",
    )
)


def is_event(fields: Fields) -> bool:
    # Any event key makes it an event, so a partial event is reported as
    # missing fields rather than as an unknown shape.
    # auditID first: nearly every record that is an event has it, and a dict lookup is cheaper.
    return "auditID" in fields or not _EVENT_KEYS.isdisjoint(fields)
