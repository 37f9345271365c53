"""Load, check and compile ``audit.k8s.io/v1`` Policy files.

Loading follows kube-apiserver (reader.go, validation.go): YAML or JSON, only
``audit.k8s.io/v1``, the same validation checks, field paths and messages, and
a refusal of a policy with no rules.

We go one step further. kube-apiserver silently drops unknown fields, so a
typo such as ``namespace:`` for ``namespaces:`` widens a rule without a word.
Here a strict load reports every unknown (or duplicated) key with its path,
line and a did-you-mean suggestion; ``lenient=True`` behaves like
kube-apiserver: the issues become warnings and the fields are dropped.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
import yaml

from _fastmatch import Rule

from .errors import PipelineError

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
LEVEL_RANK = {name: rank for rank, name in enumerate(LEVELS)}
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
API_VERSION = "audit.k8s.io/v1"


class GroupResources(msgspec.Struct, kw_only=True):
    group: str = ""
    resources: list[str] = []
    resourceNames: list[str] = []


class PolicyRule(msgspec.Struct, kw_only=True):
    level: str = ""
    users: list[str] = []
    userGroups: list[str] = []
    verbs: list[str] = []
    resources: list[GroupResources] = []
    namespaces: list[str] = []
    nonResourceURLs: list[str] = []
    omitStages: list[str] = []
    omitManagedFields: bool | None = None


class Policy(msgspec.Struct, kw_only=True):
    apiVersion: str = ""
    kind: str = ""
    metadata: dict[str, Any] = {}
    rules: list[PolicyRule] = []
    omitStages: list[str] = []
    omitManagedFields: bool = False


# The keys each object may carry, for the unknown-field check.
_SCHEMA_KEYS: dict[type[msgspec.Struct], tuple[str, ...]] = {
    Policy: Policy.__struct_fields__,
    PolicyRule: PolicyRule.__struct_fields__,
    GroupResources: GroupResources.__struct_fields__,
}


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy file: a path, a message, and where it is."""

    path: str
    message: str
    line: int | None = None
    kind: str = "invalid"  # "invalid", "unknown_field", "duplicate_key", "decode"
    suggestion: str | None = None

    def render(self, filename: str | None = None) -> str:
        where = ""
        if filename is not None:
            where = f"{filename}:{self.line}: " if self.line else f"{filename}: "
        return where + self.message


class PolicyError(PipelineError):
    """A policy that cannot be used. ``issues`` lists every problem found."""

    def __init__(self, issues: list[PolicyIssue], filename: str | None = None) -> None:
        self.issues = issues
        self.filename = filename
        super().__init__(self._aggregate())

    def _aggregate(self) -> str:
        # Like apimachinery's ToAggregate: duplicates dropped, one error as
        # itself, several as "[e1, e2]".
        seen: list[str] = []
        for issue in self.issues:
            if issue.message not in seen:
                seen.append(issue.message)
        text = seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"
        if self.filename is not None:
            text += f": from file {self.filename}"
        return text


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """What a matched rule decides, ready for the hot path."""

    index: int
    level: str
    omit_stages: frozenset[str]
    omit_managed_fields: bool
    rank: int  # position of ``level`` in LEVELS, for the hot path


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A policy that passed loading and validation, plus what lenient mode dropped."""

    policy: Policy
    warnings: list[PolicyIssue] = field(default_factory=list)
    source: str = "<policy>"

    def matcher_rules(self) -> list[Rule]:
        return [rule_to_matcher(r) for r in self.policy.rules]

    def compiled_rules(self) -> list[CompiledRule]:
        global_stages = set(self.policy.omitStages)
        out = []
        for i, r in enumerate(self.policy.rules):
            omf = self.policy.omitManagedFields if r.omitManagedFields is None else r.omitManagedFields
            out.append(CompiledRule(i, r.level, frozenset(global_stages | set(r.omitStages)), omf,
                                    LEVEL_RANK.get(r.level, 0)))
        return out

    @property
    def default_omit_stages(self) -> frozenset[str]:
        return frozenset(self.policy.omitStages)


class _GroupFields(Protocol):
    @property
    def group(self) -> str: ...
    @property
    def resources(self) -> Sequence[str]: ...
    @property
    def resourceNames(self) -> Sequence[str]: ...


class RuleFields(Protocol):
    """A policy rule's selecting fields: a PolicyRule, or a routing Selector (read-only)."""

    @property
    def users(self) -> Sequence[str]: ...
    @property
    def userGroups(self) -> Sequence[str]: ...
    @property
    def verbs(self) -> Sequence[str]: ...
    @property
    def namespaces(self) -> Sequence[str]: ...
    @property
    def nonResourceURLs(self) -> Sequence[str]: ...
    @property
    def resources(self) -> Sequence[_GroupFields]: ...


def rule_to_matcher(rule: RuleFields, levels: tuple[str, ...] = ()) -> Rule:
    """The builtins-only tuple the ``_fastmatch`` matcher takes for one rule."""
    return (
        tuple(rule.users),
        tuple(rule.userGroups),
        tuple(rule.verbs),
        tuple(rule.namespaces),
        tuple((gr.group, tuple(gr.resources), tuple(gr.resourceNames)) for gr in rule.resources),
        tuple(rule.nonResourceURLs),
        levels,
    )


# --------------------------------------------------------------------------
# YAML with line numbers and duplicate-key detection

class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers each mapping key's line and spots duplicates."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.key_lines: dict[int, dict[str, int]] = {}
        self.duplicates: list[tuple[dict[str, Any], str, int]] = []


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        line = key_node.start_mark.line + 1
        if isinstance(key, str):
            if key in mapping:
                loader.duplicates.append((mapping, key, line))
            lines[key] = line
        mapping[key] = value  # the last occurrence wins, as in kube's lenient decode
    loader.key_lines[id(mapping)] = lines
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _parse_document(text: str) -> tuple[Any, _LineLoader]:
    loader = _LineLoader(text)
    try:
        return loader.get_single_data(), loader
    finally:
        loader.dispose()


# --------------------------------------------------------------------------
# Unknown fields

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


def _find_unknown(obj: Any, schema: type[msgspec.Struct], path: str, loader: _LineLoader,
                  issues: list[PolicyIssue]) -> Any:
    """Return ``obj`` with unknown keys removed; record each one in ``issues``."""
    if not isinstance(obj, dict):
        return obj
    allowed = _SCHEMA_KEYS[schema]
    lines = loader.key_lines.get(id(obj), {})
    cleaned: dict[str, Any] = {}
    for key, value in obj.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in allowed:
            hint = _suggest(str(key), allowed)
            message = f'{key_path}: unknown field "{key}"'
            if hint:
                message += f' (did you mean "{hint}"?)'
            issues.append(PolicyIssue(key_path, message, lines.get(str(key)), "unknown_field", hint))
            continue
        if schema is Policy and key == "rules" and isinstance(value, list):
            value = [_find_unknown(r, PolicyRule, f"rules[{i}]", loader, issues) for i, r in enumerate(value)]
        elif schema is PolicyRule and key == "resources" and isinstance(value, list):
            value = [_find_unknown(g, GroupResources, f"{key_path}[{i}]", loader, issues) for i, g in enumerate(value)]
        if value is None:
            continue  # like Go's decoder: null leaves the field at its zero value
        cleaned[key] = value
    return cleaned


# --------------------------------------------------------------------------
# Validation (validation.go), messages as apimachinery prints them

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_STAGES_MSG = "allowed stages are " + ",".join(STAGES)


def _q(value: Any) -> str:
    # apimachinery >= 1.34 prints strings quoted and lists as JSON.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def validate(policy: Policy) -> list[str]:
    """Every validation error, in kube-apiserver's order and wording."""
    errors: list[str] = []
    for i, stage in enumerate(policy.omitStages):
        if stage not in STAGES:
            errors.append(f"omitStages[{i}]: Invalid value: {_q(stage)}: {_STAGES_MSG}")
    for i, rule in enumerate(policy.rules):
        p = f"rules[{i}]"
        if rule.level == "":
            errors.append(f"{p}.level: Required value")
        elif rule.level not in LEVELS:
            supported = ", ".join(_q(level) for level in LEVELS)
            errors.append(f"{p}.level: Unsupported value: {_q(rule.level)}: supported values: {supported}")
        for j, url in enumerate(rule.nonResourceURLs):
            if url == "*":
                continue
            if not url.startswith("/"):
                errors.append(f"{p}.nonResourceURLs[{j}]: Invalid value: {_q(url)}: "
                              "non-resource URL rules must begin with a '/' character")
            if url and "*" in url[:-1]:
                errors.append(f"{p}.nonResourceURLs[{j}]: Invalid value: {_q(url)}: "
                              "non-resource URL wildcards '*' must be the final character of the rule")
        for gr in rule.resources:
            if gr.group not in ("", "*"):
                msgs = []
                if len(gr.group) > 253:
                    msgs.append("must be no more than 253 characters")
                if not _DNS1123_SUBDOMAIN.match(gr.group):
                    msgs.append(_DNS1123_MSG)
                if msgs:
                    errors.append(f"{p}.resources.group: Invalid value: {_q(gr.group)}: {','.join(msgs)}")
            if gr.resourceNames and not gr.resources:
                errors.append(f"{p}.resources.resourceNames: Invalid value: {_q(gr.resourceNames)}: "
                              "using resourceNames requires at least one resource")
        for k, stage in enumerate(rule.omitStages):
            if stage not in STAGES:
                errors.append(f"{p}.omitStages[{k}]: Invalid value: {_q(stage)}: {_STAGES_MSG}")
        if rule.nonResourceURLs and (rule.resources or rule.namespaces):
            errors.append(f"{p}.nonResourceURLs: Invalid value: {_q(rule.nonResourceURLs)}: "
                          "rules cannot apply to both regular resources and non-resource URLs")
    return errors


# --------------------------------------------------------------------------
# Loading

def _path_line(loader: _LineLoader, root: Any, path: str) -> int | None:
    """Best-effort line of a validation path such as ``rules[2].level``."""
    node: Any = root
    line: int | None = None
    for part in re.findall(r"[A-Za-z]+|\[\d+\]", path):
        if part.startswith("["):
            idx = int(part[1:-1])
            if isinstance(node, list) and idx < len(node):
                node = node[idx]
                if isinstance(node, dict):
                    lines = loader.key_lines.get(id(node), {})
                    if lines:
                        line = min(lines.values())
            continue
        if isinstance(node, list) and node:
            node = node[0]
        if isinstance(node, dict):
            line = loader.key_lines.get(id(node), {}).get(part, line)
            node = node.get(part)
    return line


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
    try:
        document, loader = _parse_document(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise PolicyError([PolicyIssue("", f"failed decoding: {exc}".replace("\n", " "),
                                       None if line is None else line + 1, "decode")], source) from None
    if document is None:
        raise PolicyError([PolicyIssue("", "failed decoding: the policy file is empty", None, "decode")], source)
    if not isinstance(document, dict):
        raise PolicyError([PolicyIssue("", "failed decoding: a policy must be a mapping (an object), "
                                       f"not {type(document).__name__}", 1, "decode")], source)

    strictness: list[PolicyIssue] = []
    for mapping, key, line in loader.duplicates:
        strictness.append(PolicyIssue(key, f'duplicate key "{key}" (the last occurrence wins)', line, "duplicate_key"))
    cleaned = _find_unknown(document, Policy, "", loader, strictness)

    issues: list[PolicyIssue] = [] if lenient else list(strictness)
    try:
        policy = msgspec.convert(cleaned, Policy)
    except msgspec.ValidationError as exc:
        issues.append(PolicyIssue("", f"failed decoding: {exc}", None, "decode"))
        raise PolicyError(issues, source) from None

    if not policy.apiVersion:
        issues.append(PolicyIssue("apiVersion", "failed decoding: unknown group version field: "
                                  f'the policy has no apiVersion (want "{API_VERSION}")',
                                  _path_line(loader, document, "apiVersion") or 1, "decode"))
        raise PolicyError(issues, source)
    if policy.apiVersion != API_VERSION or (policy.kind and policy.kind != "Policy"):
        kind = policy.kind or "Policy"
        issues.append(PolicyIssue("apiVersion", f'failed decoding: no kind "{kind}" is registered for version '
                                  f'"{policy.apiVersion}" (only {API_VERSION} Policy is accepted)',
                                  _path_line(loader, document, "apiVersion"), "decode"))
        raise PolicyError(issues, source)

    for message in validate(policy):
        path = message.split(":", 1)[0]
        issues.append(PolicyIssue(path, message, _path_line(loader, document, path)))
    if not issues and not policy.rules:
        issues.append(PolicyIssue("rules", "loaded illegal policy with 0 rules", None))
    if issues:
        raise PolicyError(issues, source)
    return LoadedPolicy(policy, strictness if lenient else [], source)


def with_suggestions_applied(text: str) -> dict[str, Any] | None:
    """The policy document with every did-you-mean suggestion applied.

    Used to show how much wider a lenient load made a rule: what the author
    meant, as far as the suggestions can tell. None if the text is not a
    mapping.
    """
    try:
        document, _ = _parse_document(text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None

    def fix(obj: Any, schema: type[msgspec.Struct]) -> Any:
        if not isinstance(obj, dict):
            return obj
        allowed = _SCHEMA_KEYS[schema]
        out: dict[str, Any] = {}
        for key, value in obj.items():
            name = key
            if key not in allowed:
                hint = _suggest(str(key), allowed)
                if hint is not None and hint not in obj:
                    name = hint
            if schema is Policy and name == "rules" and isinstance(value, list):
                value = [fix(r, PolicyRule) for r in value]
            elif schema is PolicyRule and name == "resources" and isinstance(value, list):
                value = [fix(g, GroupResources) for g in value]
            out[name] = value
        return out

    fixed: dict[str, Any] = fix(document, Policy)
    return fixed


def load(path: str | Path, *, lenient: bool = False) -> LoadedPolicy:
    """Load a policy file (see ``loads``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyIssue("", f"failed decoding: not UTF-8 text ({exc.reason} at byte {exc.start})",
                                       None, "decode")], str(p)) from None
    return loads(text, lenient=lenient, source=str(p))


def from_mapping(obj: Mapping[str, Any], *, lenient: bool = False, source: str = "<policy>") -> LoadedPolicy:
    """Load a policy given as a parsed JSON/YAML object (tests, conformance vectors)."""
    return loads(json.dumps(obj), lenient=lenient, source=source)
