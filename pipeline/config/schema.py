"""The config's JSON Schema, generated from the Structs, for editors and CI.

``auditpipe config schema`` prints it; configs/auditpipe.schema.json is the
shipped copy (a test keeps it current), so a YAML file that starts with
``# yaml-language-server: $schema=auditpipe.schema.json`` gets completion and
checks in editors. The loader is a little more forgiving than the schema: it
reads numbers written as strings (``"8080"`` from ``${PORT}``, ``1.5e6``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .. import __version__
from .model import Config

SCHEMA_ID = "https://auditpipe.dev/schema/config.json"


# A value written as ${VAR}: the loader interpolates it before it checks the type.
INTERPOLATED = {"type": "string", "pattern": r"\$\{[^}]+\}"}
_LEAF_TYPES = ("integer", "number", "boolean")
_KEEP_OUTSIDE = ("description", "default", "title")


def _interpolation_allowed(node: Any) -> Any:
    """``node`` with every constrained leaf also accepting a ``${VAR}`` string."""
    if isinstance(node, list):
        return [_interpolation_allowed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _interpolation_allowed(value) for key, value in node.items()}
    constrained = out.get("type") in _LEAF_TYPES or (
        out.get("type") == "string" and any(k in out for k in ("pattern", "enum", "format", "minLength"))
    )
    if "enum" in out and "type" not in out:
        constrained = True
    if not constrained:
        return out
    outside = {k: out.pop(k) for k in _KEEP_OUTSIDE if k in out}
    return {**outside, "anyOf": [out, INTERPOLATED]}


def json_schema() -> dict[str, Any]:
    generated: dict[str, Any] = _interpolation_allowed(msgspec.json.schema(Config))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"auditpipe {__version__} pipeline config",
        **generated,
    }


def schema_json() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
