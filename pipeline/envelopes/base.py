"""What an envelope handler hands back to the decoder, and shared unwrapping.

A handler looks at one decoded JSON object and, if the object is its
platform's envelope, returns what it holds: values to decode again
(``Inner``: an event line, a nested envelope), events it rebuilt itself
(``Built``: GKE), records that are not audit events (``Skip``: counted, not
dead-lettered), or per-item problems (``ItemError``: dead-lettered with that
item's bytes only). A handler returns None when the object is not its own.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from dataclasses import dataclass

import msgspec
from msgspec import Raw

from ..errors import ReasonCode
from ..model import Fields, decode_array, decode_fields, decode_str

GZIP_MAGIC = b"\x1f\x8b"
BASE64_GZIP = b"H4sI"  # base64 of gzip's magic and method byte


@dataclass(slots=True)
class Inner:
    """A value to decode again, and the envelope it came out of."""

    data: bytes
    path: str
    envelope: str


@dataclass(slots=True)
class Built:
    """An event rebuilt from a platform's own record, naming what was made up."""

    fields: Fields
    path: str
    envelope: str
    synthesized: str


@dataclass(slots=True)
class Skip:
    """A record that is not a Kubernetes audit event (a health check, klog text)."""

    reason: str


@dataclass(slots=True)
class ItemError:
    """One item of an envelope that cannot be read; the rest of the envelope goes on."""

    code: ReasonCode
    message: str
    path: str
    raw: bytes


Unwrapped = Inner | Built | Skip | ItemError


class EnvelopeError(Exception):
    """The whole envelope is broken (internal: the decoder turns it into a rejection)."""

    def __init__(self, code: ReasonCode, message: str, path: str) -> None:
        super().__init__(message)
        self.code, self.message, self.path = code, message, path


def text(fields: Fields, key: str) -> str | None:
    raw = fields.get(key)
    if raw is None:
        return None
    try:
        value: str = decode_str(raw)
    except msgspec.ValidationError:
        return None
    return value


def obj(fields: Fields, key: str) -> Fields | None:
    raw = fields.get(key)
    if raw is None:
        return None
    try:
        return decode_fields(raw)
    except msgspec.ValidationError:
        return None


def array(fields: Fields, key: str) -> list[Raw] | None:
    raw = fields.get(key)
    if raw is None:
        return None
    try:
        return decode_array(raw)
    except msgspec.ValidationError:
        return None


def gunzip(data: bytes, limit: int, path: str) -> bytes:
    """Decompress at most ``limit`` bytes (a decompression bomb stops there)."""
    decoder = zlib.decompressobj(wbits=31)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise EnvelopeError(ReasonCode.INVALID_VALUE, f"corrupt gzip data ({exc})", path) from None
    if len(out) > limit:
        raise EnvelopeError(ReasonCode.TOO_LARGE, f"decompresses to more than the limit of {limit} bytes", path)
    if not decoder.eof:
        raise EnvelopeError(ReasonCode.INVALID_VALUE, "truncated gzip data", path)
    return out


def unbase64(value: str, path: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise EnvelopeError(ReasonCode.INVALID_VALUE, "not valid base64", path) from None


def payload(value: str, limit: int, path: str) -> bytes:
    """A transport ``data`` field: base64, of gzip or of the JSON itself."""
    data = unbase64(value, path)
    return gunzip(data, limit, path) if data[:2] == GZIP_MAGIC else data
