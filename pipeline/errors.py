"""One exception root for the pipeline, and the fixed set of record error codes.

A bad record never raises out of the hot path: ``process`` turns it into a
``RecordError`` value (a dead letter). Exceptions are for the edges: a policy
or config that cannot be loaded, or a delivery that failed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PipelineError(Exception):
    """Root of every error auditpipe raises on purpose."""


class ConfigError(PipelineError):
    """A pipeline config that cannot be used; the message names the path."""


class ReasonCode(str, enum.Enum):
    """Why a record could not be read. Low cardinality: metrics label on it."""

    INVALID_UTF8 = "invalid_utf8"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    WRONG_TYPE = "wrong_type"
    MISSING_FIELD = "missing_field"
    INVALID_VALUE = "invalid_value"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    UNKNOWN_SHAPE = "unknown_shape"
    EMPTY = "empty"


@dataclass(frozen=True, slots=True)
class RecordError:
    """A record that could not be processed, kept with its original bytes.

    Attributes
    ----------
    code
        One of ``ReasonCode``.
    message
        Human-readable reason, naming the JSON path (``$.user.groups[1]``).
    path
        The JSON path of the offending value, ``$`` for the whole record.
    raw
        The record's original bytes, unchanged, for the dead-letter topic.
    source
        Where it came from: ``file:line`` or ``topic/partition/offset``.
    """

    code: ReasonCode
    message: str
    path: str
    raw: bytes
    source: str

    def describe(self) -> str:
        return f"{self.source}: {self.code.value} at {self.path}: {self.message}"
