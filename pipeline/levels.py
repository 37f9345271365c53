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

from typing import Final

import msgspec
from msgspec import Raw

from .model import LEVELS, NONE, REQUEST, REQUEST_RESPONSE, Fields, decode_array, decode_fields, encode

_LEVEL_RAW = {name: Raw(encode(name)) for name in LEVELS}

# Why an event was dropped: a metrics label and a summary line, so a fixed set.
NO_RULE: Final = "no_rule"  # no rule matched: the policy's default level None
LEVEL_NONE: Final = "level_none"  # the matching rule's level is None
RECORDED_NONE: Final = "recorded_none"  # recorded at None: there is nothing to keep
OMITTED_STAGE: Final = "omitted_stage"  # the event's stage is in the rule's omitStages


def decide(rule_rank: int | None, omit_stages: frozenset[str], recorded_rank: int, stage: str) -> tuple[int, str]:
    """The applied level rank of one event, or why it is dropped.

    Parameters
    ----------
    rule_rank
        The matching rule's level rank, None when no rule matched.
    omit_stages
        The rule's omitStages, with the policy's.
    recorded_rank, stage
        The event's own level rank and stage.

    Returns
    -------
    (rank, reason)
        ``reason`` is "" when the event is kept at ``rank``; otherwise one
        of NO_RULE, LEVEL_NONE, RECORDED_NONE, OMITTED_STAGE.
    """
    if rule_rank is None:
        return NONE, NO_RULE
    if rule_rank == NONE:
        return NONE, LEVEL_NONE
    if recorded_rank == NONE:
        return NONE, RECORDED_NONE
    if stage in omit_stages:
        return NONE, OMITTED_STAGE
    # The level never rises above the recorded one: a body the apiserver did
    # not record cannot be invented.
    return (rule_rank if rule_rank < recorded_rank else recorded_rank), ""


def _object(raw: Raw) -> dict[str, Raw] | None:
    try:
        return decode_fields(raw)
    except msgspec.ValidationError:
        return None  # not an object: kube-apiserver keeps such bodies unchanged, so do we


def _cut(raw: Raw) -> Raw | None:
    """``raw`` without managedFields, or None if there were none.

    Only the path down to ``metadata`` is decoded, as ``dict[str, Raw]``:
    everything else stays raw bytes, so a 300 KB body costs one scan, not a
    tree of Python objects.
    """
    obj = _object(raw)
    if obj is None:
        return None
    changed = False
    meta_raw = obj.get("metadata")
    if meta_raw is not None:
        meta = _object(meta_raw)
        if meta is not None and "managedFields" in meta:
            del meta["managedFields"]
            obj["metadata"] = Raw(encode(meta))
            changed = True
    items_raw = obj.get("items")
    if items_raw is not None:
        changed |= _cut_each(obj, "items", items_raw, None)
    kind_raw = obj.get("kind")
    if kind_raw is not None and bytes(kind_raw) == b'"Table"' and "rows" in obj:
        changed |= _cut_each(obj, "rows", obj["rows"], "object")
    return Raw(encode(obj)) if changed else None


def _cut_each(obj: dict[str, Raw], key: str, raw: Raw, inner: str | None) -> bool:
    try:
        elements = decode_array(raw)
    except msgspec.ValidationError:
        return False
    changed = False
    for i, element in enumerate(elements):
        if inner is None:
            new = _cut(element)
        else:  # a Table row: the object sits one level down
            row = _object(element)
            target = row.get(inner) if row is not None else None
            new = None
            if row is not None and target is not None:
                cut = _cut(target)
                if cut is not None:
                    row[inner] = cut
                    new = Raw(encode(row))
        if new is not None:
            elements[i] = new
            changed = True
    if changed:
        obj[key] = Raw(encode(elements))
    return changed


def without_managed_fields(body: Raw) -> Raw:
    """``body`` with managedFields removed; the same Raw when it has none."""
    return _cut(body) or body


def cut_managed_fields(body: bytes) -> bytes:
    """``without_managed_fields`` on bytes: what the compiled splice calls for a body."""
    return bytes(_cut(Raw(body)) or body)


def apply_level(fields: Fields, rank: int, recorded: str, verb: str, omit_managed_fields: bool) -> None:
    """Cut ``fields`` (in place) down to the applied level ``rank``.

    ``omit_managed_fields`` should be False when the record's bytes hold no
    ``"managedFields"`` at all: the caller tests that once on the whole record.
    """
    if rank < REQUEST:
        fields.pop("requestObject", None)
    if rank < REQUEST_RESPONSE:
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
