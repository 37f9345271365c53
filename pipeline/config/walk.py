"""Rewrite the config's values that carry a marker in their type metadata.

Paths (``{"path": True}``) are resolved against the config file's folder and
secrets (``{"secret": True}``) are masked, wherever they sit in the tree: the
walk follows the Structs' own type information, so a new option of either
kind needs no code here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi


@cache
def _info(cls: type) -> mi.Type:
    return mi.type_info(cls)


def _fits(value: Any, t: mi.Type) -> bool:
    if isinstance(t, mi.Metadata):
        return _fits(value, t.type)
    if isinstance(t, mi.StructType):
        return isinstance(value, t.cls)
    if isinstance(t, mi.NoneType):
        return value is None
    if isinstance(t, mi.StrType):
        return isinstance(value, str)
    if isinstance(t, mi.ListType):
        return isinstance(value, list)
    if isinstance(t, mi.DictType):
        return isinstance(value, dict)
    return False


def _rewrite(value: Any, t: mi.Type, marker: str, fn: Callable[[str], str]) -> Any:
    if isinstance(t, mi.Metadata):
        if t.extra and t.extra.get(marker) and isinstance(value, str):
            return fn(value)
        return _rewrite(value, t.type, marker, fn)
    if isinstance(t, mi.StructType):
        changes = {}
        for f in t.fields:
            old = getattr(value, f.name)
            new = _rewrite(old, f.type, marker, fn)
            if new is not old:
                changes[f.name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(t, mi.UnionType):
        for option in t.types:
            if _fits(value, option):
                return _rewrite(value, option, marker, fn)
        return value
    if isinstance(t, mi.ListType) and isinstance(value, list):
        items = [_rewrite(v, t.item_type, marker, fn) for v in value]
        return items if any(a is not b for a, b in zip(items, value)) else value
    if isinstance(t, mi.DictType) and isinstance(value, dict):
        entries = {k: _rewrite(v, t.value_type, marker, fn) for k, v in value.items()}
        return entries if any(entries[k] is not value[k] for k in value) else value
    return value


def rewrite_marked(config: msgspec.Struct, marker: str, fn: Callable[[str], str]) -> Any:
    """A copy of ``config`` with ``fn`` applied to every string whose type is marked ``marker``."""
    return _rewrite(config, _info(type(config)), marker, fn)


def marked_values(config: msgspec.Struct, marker: str) -> list[str]:
    """Every string value of ``config`` whose type is marked ``marker``."""
    found: list[str] = []

    def collect(value: str) -> str:
        found.append(value)
        return value

    rewrite_marked(config, marker, collect)
    return found
