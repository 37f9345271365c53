"""Find the audit events in a record, whatever shape it arrived in.

One record (a Kafka message value, a line of a file, a webhook body) can hold:

* a raw apiserver event line (``audit.k8s.io/v1`` or ``v1beta1``);
* a webhook ``EventList`` (its items carry no kind/apiVersion), or a JSON array;
* a Fluent Bit record: ``{"@timestamp": …, "log": "<event line>"}``, the event
  flattened with ``@timestamp`` first, a container-log envelope (``time``,
  ``stream``, ``_p``/``logtag``, ``log``/``message``, ``kubernetes``), or the
  event under another key (``record_keys``: ``kubernetes-audit`` for a renamed
  tail ``Key``, ``log_processed`` for ``Merge_Log_Key``), as a string or an object;
* a managed platform's export (pipeline/envelopes): EKS through CloudWatch Logs,
  AKS through Event Hubs, GKE Cloud Logging entries, OpenShift Logging records;
* any of these in MessagePack, gzip, or base64 of gzip.

The shape is sniffed per record, never taken from configuration. Bad input
never raises: it becomes a ``Rejection``; one bad item of a list or envelope
is a rejection holding that item only, so a replay cannot duplicate the rest.
Records that are not audit events at all (a CloudWatch health check, klog
text in an AKS hub) are counted in ``skipped``, not rejected.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import msgspec
from msgspec import Raw

from . import envelopes
from .envelopes.base import BASE64_GZIP, GZIP_MAGIC, Built, EnvelopeError, Inner, ItemError, Skip, gunzip, unbase64
from .errors import ReasonCode, Rejection
from .events import AnyEvent, Reject, is_event, to_event
from .model import AUDIT_V1, AUDIT_VERSIONS, Fields, decode_array, decode_str, encode

if TYPE_CHECKING:
    from _fastmatch._scan import Scanner

DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024
DEFAULT_RECORD_KEYS = ("log", "message")
MAX_DEPTH = 6  # envelopes in envelopes: awslogs > batch > message > Fluent Bit > event

_decode_top = msgspec.json.Decoder(dict[str, Raw] | list[Raw]).decode
# MessagePack containers: fixmap 0x80-0x8f, fixarray 0x90-0x9f, map16/32 0xde/0xdf,
# array16/32 0xdc/0xdd. No JSON text starts with any of these bytes.
_MSGPACK_FIRST = frozenset(range(0x80, 0xA0)) | {0xDC, 0xDD, 0xDE, 0xDF}
_SPACE = b" \t\r\n"
# The apiVersion a scanned event without one gets, as JSON (see events._self_describing).
_VERSION_JSON = {v: encode(v) for v in AUDIT_VERSIONS}
_V1_JSON = _VERSION_JSON[AUDIT_V1]


def _check_utf8(data: bytes) -> None:
    if data.isascii():  # the common case costs no allocation
        return
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Reject(ReasonCode.INVALID_UTF8, f"invalid UTF-8 ({exc.reason}) at byte {exc.start}", "$") from None


def _decode_json(data: bytes, path: str) -> Fields | list[Raw]:
    try:
        value: Fields | list[Raw] = _decode_top(data)
        return value
    except msgspec.ValidationError:
        raise Reject(ReasonCode.NOT_AN_OBJECT, "Expected an object or an array", path) from None
    except msgspec.DecodeError as exc:
        raise Reject(ReasonCode.INVALID_JSON, str(exc), path) from None
    except RecursionError:
        raise Reject(ReasonCode.TOO_DEEP, "JSON nested too deeply", path) from None


def _from_msgpack(data: bytes) -> bytes:
    try:
        return encode(msgspec.msgpack.decode(data))
    except UnicodeDecodeError as exc:
        raise Reject(ReasonCode.INVALID_UTF8, f"MessagePack string is not UTF-8 ({exc.reason})", "$") from None
    except (msgspec.DecodeError, msgspec.EncodeError, TypeError, ValueError) as exc:
        raise Reject(ReasonCode.INVALID_JSON, f"MessagePack record could not be read: {exc}", "$") from None
    except RecursionError:
        raise Reject(ReasonCode.TOO_DEEP, "MessagePack nested too deeply", "$") from None


def _list_version(value: Fields, inherited: str) -> str:
    raw = value.get("apiVersion")
    if raw is not None:
        try:
            version = decode_str(raw)
        except msgspec.ValidationError:
            return inherited
        if version in AUDIT_VERSIONS:
            return version
    return inherited


class RecordDecoder:
    """Decodes records into events; built once per pipeline.

    Parameters
    ----------
    max_bytes
        Records (and what a compressed record decompresses to) over this are
        rejected as ``too_large``.
    record_keys
        Keys of a log-shipper record that may hold the event line (or the event
        as an object), tried in order.
    scanner
        The compiled one-pass scanner (``_fastmatch.Scanner``), tried first on
        every JSON object unwrapped from a record (gzip, base64, envelopes, lists);
        what it does not take goes the reference way below. Plain records are the
        caller's to scan, a batch at a time (``Processor`` uses ``scan_many``), so
        one the scanner declined is not scanned twice. None: the reference way only.
    """

    __slots__ = ("_keys", "_max", "_scan", "skipped")

    def __init__(
        self,
        max_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        record_keys: tuple[str, ...] = DEFAULT_RECORD_KEYS,
        scanner: Scanner | None = None,
    ) -> None:
        self._max = max_bytes
        self._keys = record_keys
        self._scan = scanner.scan if scanner is not None else None
        self.skipped: Counter[str] = Counter()

    def decode(self, data: bytes, source: str, events: list[AnyEvent], errors: list[Rejection]) -> None:
        """Append the events in ``data`` to ``events``; anything unreadable goes to ``errors``."""
        try:
            # Nearly every record is a JSON object within the limit: nothing to sniff.
            if data[:1] != b"{" or len(data) > self._max:
                unwrapped = self._sniff(data, source, events, errors)
                if unwrapped is None:
                    return
                data = unwrapped
                # A plain record was offered to the scanner already (Processor: scan_many);
                # what came out of gzip or base64 was not.
                if self._scan is not None and data[:1] == b"{":
                    scanned = self._scan(data, source, _V1_JSON, "")
                    if scanned is not None:
                        events.append(scanned)
                        return
            if not data.isascii():
                _check_utf8(data)
            # _walk at depth 0, with its commonest case (one raw event line) first.
            value = _decode_json(data, "$")
            if type(value) is dict and "log_type" not in value and is_event(value):
                events.append(to_event(value, data, source, "$", AUDIT_V1))
                return
            self._shape(value, "$", 0, data, source, AUDIT_V1, "", events, errors)
        except Reject as r:
            errors.append(Rejection(r.code, r.message, r.path, data, source))

    def _sniff(self, data: bytes, source: str, events: list[AnyEvent], errors: list[Rejection]) -> bytes | None:
        """Check the size and the first byte: the JSON text to read, or None when a MessagePack record was read."""
        if len(data) > self._max:
            raise Reject(ReasonCode.TOO_LARGE, f"record is {len(data)} bytes, over the limit of {self._max}", "$")
        first = data[:1]
        if first and first in _SPACE:
            first = data.lstrip()[:1]
        if not first:
            raise Reject(ReasonCode.EMPTY, "empty record", "$")
        if first[0] in _MSGPACK_FIRST:
            self._walk(_from_msgpack(data), "$", 0, data, source, AUDIT_V1, "", events, errors)
            return None
        if data[:2] == GZIP_MAGIC or data[:4] == BASE64_GZIP:
            return self._decompress(data)
        return data

    def _decompress(self, data: bytes) -> bytes:
        try:
            if data[:4] == BASE64_GZIP:
                data = unbase64(data.strip().decode("ascii", "replace"), "$")
            return gunzip(data, self._max, "$")
        except EnvelopeError as exc:
            raise Reject(exc.code, exc.message, exc.path) from None

    def _walk(
        self,
        data: bytes,
        path: str,
        depth: int,
        raw: bytes,
        source: str,
        api_version: str,
        envelope: str,
        events: list[AnyEvent],
        errors: list[Rejection],
    ) -> None:
        """Sniff one value's shape and append the events (or errors) it holds."""
        if depth > MAX_DEPTH:
            raise Reject(ReasonCode.UNKNOWN_SHAPE, "envelopes nested too deeply", path)
        if self._scan is not None and data[:1] == b"{":
            scanned = self._scan(data, source, _VERSION_JSON[api_version], envelope)
            if scanned is not None:
                events.append(scanned)
                return
        self._shape(_decode_json(data, path), path, depth, raw, source, api_version, envelope, events, errors)

    def _shape(
        self,
        value: Fields | list[Raw],
        path: str,
        depth: int,
        raw: bytes,
        source: str,
        api_version: str,
        envelope: str,
        events: list[AnyEvent],
        errors: list[Rejection],
    ) -> None:
        """Append the events (or errors) one decoded value holds, by its shape."""
        if isinstance(value, list):
            for i, item in enumerate(value):
                self._item(bytes(item), f"{path}[{i}]", depth + 1, source, api_version, envelope, events, errors)
            return
        # OpenShift's records are events with the forwarder's keys merged in: before the event test.
        if "log_type" not in value and is_event(value):
            events.append(to_event(value, raw, source, path, api_version, envelope))
            return
        if "items" in value:  # a webhook EventList
            try:
                items = decode_array(value["items"])
            except msgspec.ValidationError:
                raise Reject(ReasonCode.WRONG_TYPE, "Expected `array`", f"{path}.items") from None
            version = _list_version(value, api_version)
            for i, item in enumerate(items):
                self._item(bytes(item), f"{path}.items[{i}]", depth + 1, source, version, envelope, events, errors)
            return
        try:
            unwrapped = envelopes.unwrap(value, path, self._max)
        except EnvelopeError as exc:
            raise Reject(exc.code, exc.message, exc.path) from None
        if unwrapped is not None:
            self._unwrapped(unwrapped, depth, raw, source, envelope, events, errors)
            return
        inner = self._record_key(value, path)
        if inner is not None:
            self._walk(inner[0], inner[1], depth + 1, raw, source, api_version, envelope, events, errors)
            return
        keys = ", ".join(list(value)[:5])
        raise Reject(
            ReasonCode.UNKNOWN_SHAPE,
            f"not an audit event, EventList, log record or platform envelope (keys: {keys or 'none'})",
            path,
        )

    def _unwrapped(
        self,
        items: list[envelopes.Unwrapped],
        depth: int,
        raw: bytes,
        source: str,
        envelope: str,
        events: list[AnyEvent],
        errors: list[Rejection],
    ) -> None:
        for item in items:
            if isinstance(item, Inner):
                self._item(item.data, item.path, depth + 1, source, AUDIT_V1, item.envelope or envelope, events, errors)
            elif isinstance(item, Built):
                try:
                    events.append(
                        to_event(item.fields, raw, source, item.path, AUDIT_V1, item.envelope, item.synthesized)
                    )
                except Reject as r:
                    errors.append(Rejection(r.code, r.message, r.path, raw, source))
            elif isinstance(item, ItemError):
                errors.append(Rejection(item.code, item.message, item.path, item.raw or raw, source))
            elif isinstance(item, Skip):
                self.skipped[item.reason] += 1

    def _item(
        self,
        item: bytes,
        path: str,
        depth: int,
        source: str,
        api_version: str,
        envelope: str,
        events: list[AnyEvent],
        errors: list[Rejection],
    ) -> None:
        try:
            self._walk(item, path, depth, item, source, api_version, envelope, events, errors)
        except Reject as r:
            errors.append(Rejection(r.code, r.message, r.path, item, source))

    def _record_key(self, fields: Fields, path: str) -> tuple[bytes, str] | None:
        """The event inside a log-shipper record: a line (string) or the event itself (object)."""
        for key in self._keys:
            raw = fields.get(key)
            if raw is None:
                continue
            if bytes(memoryview(raw)[:1]) in (b"{", b"["):
                return bytes(raw), f"{path}.{key}"
            try:
                line = decode_str(raw)
            except msgspec.ValidationError:
                raise Reject(
                    ReasonCode.WRONG_TYPE, "Expected `str` (the event line) or `object` (the event)", f"{path}.{key}"
                ) from None
            return line.encode("utf-8", "surrogatepass"), f"{path}.{key}"
        return None


_default = RecordDecoder()


def decode_record(
    data: bytes, source: str, events: list[AnyEvent], errors: list[Rejection], max_bytes: int = DEFAULT_MAX_RECORD_BYTES
) -> None:
    """Decode one record with the default record keys (see ``RecordDecoder``). Never raises for bad input."""
    decoder = _default if max_bytes == DEFAULT_MAX_RECORD_BYTES else RecordDecoder(max_bytes)
    decoder.decode(data, source, events, errors)
