"""Load ``audit.k8s.io/v1`` Policy files as kube-apiserver does, and stricter.

Loading follows kube-apiserver (reader.go, validation.go): YAML or JSON, only
``audit.k8s.io/v1``, the same validation checks, field paths and messages,
and a refusal of a policy with no rules.

We go one step further. kube-apiserver silently drops unknown fields, so a
typo such as ``namespace:`` for ``namespaces:`` widens a rule without a word.
Here a strict load reports every unknown (or duplicated) key with its path,
line and a did-you-mean suggestion; ``lenient=True`` behaves like
kube-apiserver: the issues become warnings and the fields are dropped.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..yamlsafe import YamlDocument, YamlError, parse, paused_gc
from .model import GroupResources, LoadedPolicy, Policy, PolicyError, PolicyIssue, PolicyRule
from .validate import validate

API_VERSION = "audit.k8s.io/v1"

# The keys each object may carry, for the unknown-field check.
_SCHEMA_KEYS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    Policy: Policy.__struct_fields__,
    PolicyRule: PolicyRule.__struct_fields__,
    GroupResources: GroupResources.__struct_fields__,
}


def _suggest(key: str, allowed: tuple[str, ...]) -> str | None:
    lowered = {a.lower(): a for a in allowed}
    if key.lower() in lowered:
        return lowered[key.lower()]
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        return close[0]
    # Singular/plural slips: "namespace" for "namespaces", "verb" for "verbs".
    for a in allowed:
        if a.rstrip("s") == key.rstrip("s"):
            return a
    return None


def _clean(
    obj: Any,
    schema: type[msgspec.Struct],
    path: str,
    doc: YamlDocument,
    issues: list[PolicyIssue],
    apply_suggestions: bool,
) -> Any:
    """``obj`` without its unknown keys, each recorded in ``issues``.

    With ``apply_suggestions`` an unknown key is renamed to its did-you-mean
    (when that key is not there already) instead of dropped: the policy as
    its author meant it, as far as the suggestions can tell.
    """
    if not isinstance(obj, dict):
        return obj
    allowed = _SCHEMA_KEYS[schema]
    lines = doc.lines_of(obj)
    cleaned: dict[str, Any] = {}
    for key, value in obj.items():
        key_path = f"{path}.{key}" if path else key
        name = key
        if key not in allowed:
            hint = _suggest(key, allowed)
            message = f'{key_path}: unknown field "{key}"'
            if hint:
                message += f' (did you mean "{hint}"?)'
            issues.append(PolicyIssue(key_path, message, lines.get(key), "unknown_field", hint))
            if not (apply_suggestions and hint is not None and hint not in obj):
                continue
            name = hint
        if schema is Policy and name == "rules" and isinstance(value, list):
            value = [_clean(r, PolicyRule, f"rules[{i}]", doc, issues, apply_suggestions) for i, r in enumerate(value)]
        elif schema is PolicyRule and name == "resources" and isinstance(value, list):
            value = [
                _clean(g, GroupResources, f"{key_path}[{i}]", doc, issues, apply_suggestions)
                for i, g in enumerate(value)
            ]
        if value is None:
            continue  # like Go's decoder: null leaves the field at its zero value
        cleaned[name] = value
    return cleaned


def _path_line(doc: YamlDocument, path: str) -> int | None:
    """Best-effort line of a validation path such as ``rules[2].level``."""
    node: Any = doc.value
    line: int | None = None
    for part in re.findall(r"[A-Za-z]+|\[\d+\]", path):
        if part.startswith("["):
            idx = int(part[1:-1])
            if isinstance(node, list) and idx < len(node):
                node = node[idx]
                lines = doc.lines_of(node)
                if lines:
                    line = min(lines.values())
            continue
        if isinstance(node, list) and node:
            node = node[0]
        if isinstance(node, dict):
            line = doc.lines_of(node).get(part, line)
            node = node.get(part)
    return line


def _decode_issue(message: str, line: int | None = None) -> PolicyIssue:
    return PolicyIssue("", f"failed decoding: {message}", line, "decode")


def _from_document(doc: YamlDocument, *, lenient: bool, source: str, apply_suggestions: bool = False) -> LoadedPolicy:
    with paused_gc():  # a large policy builds millions of small objects: see yamlsafe.paused_gc
        return _build(doc, lenient=lenient, source=source, apply_suggestions=apply_suggestions)


def _build(doc: YamlDocument, *, lenient: bool, source: str, apply_suggestions: bool) -> LoadedPolicy:
    document = doc.value
    if document is None:
        raise PolicyError([_decode_issue("the policy file is empty")], source)
    if not isinstance(document, dict):
        raise PolicyError(
            [_decode_issue(f"a policy must be a mapping (an object), not {type(document).__name__}", 1)], source
        )
    strictness = [
        PolicyIssue(key, f'duplicate key "{key}" (the last occurrence wins)', line, "duplicate_key")
        for key, line in doc.duplicates
    ]
    cleaned = _clean(document, Policy, "", doc, strictness, apply_suggestions)

    issues: list[PolicyIssue] = [] if lenient else list(strictness)
    try:
        policy = msgspec.convert(cleaned, Policy, str_keys=True)
    except msgspec.ValidationError as exc:
        issues.append(_decode_issue(str(exc)))
        raise PolicyError(issues, source) from None

    if not policy.apiVersion:
        issues.append(
            PolicyIssue(
                "apiVersion",
                f'failed decoding: unknown group version field: the policy has no apiVersion (want "{API_VERSION}")',
                _path_line(doc, "apiVersion") or 1,
                "decode",
            )
        )
        raise PolicyError(issues, source)
    if policy.apiVersion != API_VERSION or (policy.kind and policy.kind != "Policy"):
        kind = policy.kind or "Policy"
        issues.append(
            PolicyIssue(
                "apiVersion",
                f'failed decoding: no kind "{kind}" is registered for version '
                f'"{policy.apiVersion}" (only {API_VERSION} Policy is accepted)',
                _path_line(doc, "apiVersion"),
                "decode",
            )
        )
        raise PolicyError(issues, source)

    for message in validate(policy):
        path = message.split(":", 1)[0]
        issues.append(PolicyIssue(path, message, _path_line(doc, path)))
    if not issues and not policy.rules:
        issues.append(PolicyIssue("rules", "loaded illegal policy with 0 rules", None))
    if issues:
        raise PolicyError(issues, source)
    return LoadedPolicy(policy, strictness if lenient else [], source)


def _parse(text: str, source: str, lines: bool = False) -> YamlDocument:
    try:
        return parse(text, lines=lines)
    except YamlError as exc:
        raise PolicyError([_decode_issue(exc.message, exc.line)], source) from None


def _load(text: str, *, lenient: bool, source: str, apply_suggestions: bool = False) -> LoadedPolicy:
    doc = _parse(text, source)
    try:
        loaded = _from_document(doc, lenient=lenient, source=source, apply_suggestions=apply_suggestions)
    except PolicyError:
        if doc.has_lines:
            raise
        loaded = None
    if loaded is not None and (doc.has_lines or not loaded.warnings):
        return loaded
    # Read by the JSON fast path, and something to report: read it again, with lines.
    doc = _parse(text, source, lines=True)
    return _from_document(doc, lenient=lenient, source=source, apply_suggestions=apply_suggestions)


def loads(text: str, *, lenient: bool = False, source: str = "<policy>") -> LoadedPolicy:
    """Load a policy from YAML or JSON text.

    Parameters
    ----------
    text
        The file's content.
    lenient
        Behave like kube-apiserver: unknown and duplicated keys are dropped
        with a warning instead of being errors.
    source
        File name used in messages.

    Raises
    ------
    PolicyError
        With every problem found (strict mode lists unknown fields as well as
        what kube-apiserver itself would refuse).
    """
    return _load(text, lenient=lenient, source=source)


def loads_as_intended(text: str, *, source: str = "<policy>") -> LoadedPolicy:
    """The policy with every did-you-mean suggestion applied (leniently).

    Used to show how much wider a lenient load made a rule. Reads the text
    with the same bounds as ``loads``.
    """
    return _load(text, lenient=True, source=source, apply_suggestions=True)


def read_text(path: str | Path) -> str:
    """A policy file's text; unreadable or non-UTF-8 files raise PolicyError."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError([_decode_issue(f"not UTF-8 text ({exc.reason} at byte {exc.start})")], str(p)) from None
    except OSError as exc:
        raise PolicyError(
            [PolicyIssue("", f"cannot read the policy: {exc.strerror or exc}", None, "decode")], str(p)
        ) from None


def load(path: str | Path, *, lenient: bool = False) -> LoadedPolicy:
    """Load a policy file (see ``loads``)."""
    return loads(read_text(path), lenient=lenient, source=str(path))


def from_mapping(obj: Mapping[str, Any], *, lenient: bool = False, source: str = "<policy>") -> LoadedPolicy:
    """Load a policy given as a parsed JSON/YAML object (tests, conformance vectors)."""
    return _from_document(YamlDocument(dict(obj)), lenient=lenient, source=source)
