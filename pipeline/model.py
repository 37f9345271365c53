"""The audit vocabulary every module shares, defined once: levels, stages,
API versions, and the msgspec decoders and encoder of the hot path.

An event travels as ``Fields``: its top-level members in input order, each
value kept as the original bytes (``msgspec.Raw``). Decoders are built once
here and reused (msgspec's advice: a Decoder is cheap to call, not to make).
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import Raw

LEVELS: Final = ("None", "Metadata", "Request", "RequestResponse")
LEVEL_RANK: Final = {name: rank for rank, name in enumerate(LEVELS)}
NONE, METADATA, REQUEST, REQUEST_RESPONSE = range(4)
# In the order kube-apiserver emits them (Panic replaces the last two).
STAGES: Final = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
STAGE_SET: Final = frozenset(STAGES)

AUDIT_V1: Final = "audit.k8s.io/v1"
AUDIT_V1BETA1: Final = "audit.k8s.io/v1beta1"
AUDIT_VERSIONS: Final = frozenset((AUDIT_V1, AUDIT_V1BETA1))

# The members every event needs before a policy can be evaluated on it.
REQUIRED_FIELDS: Final = ("level", "auditID", "stage", "requestURI", "verb", "user")

Fields = dict[str, Raw]

decode_fields = msgspec.json.Decoder(dict[str, Raw]).decode
decode_array = msgspec.json.Decoder(list[Raw]).decode
decode_str = msgspec.json.Decoder(str).decode
encode = msgspec.json.encode

__all__ = [
    "AUDIT_V1",
    "AUDIT_V1BETA1",
    "AUDIT_VERSIONS",
    "LEVELS",
    "LEVEL_RANK",
    "METADATA",
    "NONE",
    "REQUEST",
    "REQUEST_RESPONSE",
    "REQUIRED_FIELDS",
    "STAGES",
    "STAGE_SET",
    "Fields",
    "decode_array",
    "decode_fields",
    "decode_str",
    "encode",
]
