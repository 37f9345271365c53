"""Apply an audit level to a recorded event, as kube-apiserver would have.

* Metadata drops ``requestObject`` and ``responseObject``; Request drops
  ``responseObject``; RequestResponse keeps both.
* The level never rises above the one the event was recorded at: a body the
  apiserver did not record cannot be invented.
* ``omitManagedFields`` removes ``metadata.managedFields`` from the request
  and response objects: a single object, each item of a list, and the objects
  in Table rows. A patch's request body is the patch itself, which kube-apiserver
  stores raw, so it is left alone.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Raw

from .events import LEVEL_RANK, LEVELS, Fields

_REQUEST = LEVEL_RANK["Request"]
_REQUEST_RESPONSE = LEVEL_RANK["RequestResponse"]
_LEVEL_RAW = {name: Raw(msgspec.json.encode(name)) for name in LEVELS}
_MANAGED = b'"managedFields"'
_decode_any = msgspec.json.decode
_encode = msgspec.json.encode


def applied_rank(policy_level: str, recorded_level: str) -> int:
    return min(LEVEL_RANK[policy_level], LEVEL_RANK[recorded_level])


def _strip_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        return
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    items = obj.get("items")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
                item["metadata"].pop("managedFields", None)
    if obj.get("kind") == "Table":
        rows = obj.get("rows")
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, dict):
                    _strip_object(row.get("object"))


def without_managed_fields(body: Raw) -> Raw:
    """``body`` with managedFields removed; the same Raw when it has none."""
    data = bytes(body)
    if _MANAGED not in data:  # cheap test first: most bodies need no re-encode
        return body
    obj = _decode_any(data)
    _strip_object(obj)
    return Raw(_encode(obj))


def apply_level(fields: Fields, rank: int, recorded: str, verb: str, omit_managed_fields: bool) -> None:
    """Cut ``fields`` (in place) down to the applied level ``rank``."""
    if rank < _REQUEST:
        fields.pop("requestObject", None)
    if rank < _REQUEST_RESPONSE:
        fields.pop("responseObject", None)
    if omit_managed_fields:
        req = fields.get("requestObject")
        if req is not None and verb != "patch":
            fields["requestObject"] = without_managed_fields(req)
        resp = fields.get("responseObject")
        if resp is not None:
            fields["responseObject"] = without_managed_fields(resp)
    if LEVELS[rank] != recorded:
        fields["level"] = _LEVEL_RAW[LEVELS[rank]]
