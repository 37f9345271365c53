"""One exception root for the pipeline, and the fixed set of rejection reasons.

A bad record never raises out of the hot path: ``process`` turns it into a
``Rejection`` value (a dead letter). Exceptions are for the edges: a policy,
config or input stream that cannot be read, a start-up that cannot reach what
it needs, or a delivery that failed for good. Each carries what the command
line needs to exit with the right code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class PipelineError(Exception):
    """Root of every error auditpipe raises on purpose."""


class ConfigError(PipelineError):
    """A pipeline config that cannot be used; the message names the path."""


class StartupError(PipelineError):
    """A component could not start. ``retriable``: worth retrying later (a
    broker not up yet), or not (wrong password, missing topic)."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class DeliveryError(PipelineError):
    """An output cannot take records and retrying will not help (a refused
    write, a full disk): the runner stops without acknowledging past it."""


class OutputClosed(DeliveryError):
    """The reader of an output went away (a broken pipe): stop quietly."""


class ReasonCode(str, enum.Enum):
    """Why a record could not be read or delivered. Low cardinality: a metrics label."""

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
    UNREADABLE = "unreadable"  # the input stream broke (truncated or corrupt gzip)
    TRUNCATED_BY_PLATFORM = "truncated_by_platform"  # cut short by CloudWatch (EKS) or Azure Monitor (AKS)
    REFUSED = "refused"  # an output refused the record for good (HTTP 4xx)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that could not be processed or delivered, kept with its original bytes.

    Attributes
    ----------
    code
        One of ``ReasonCode``.
    message
        Human-readable reason, naming the JSON path (``$.user.groups[1]``).
    path
        The JSON path of the offending value, ``$`` for the whole record.
    raw
        The record's original bytes, unchanged, for the dead-letter output.
        Empty when the record could not be kept (a line over the size limit).
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
