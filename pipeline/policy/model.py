"""An audit Policy as kube-apiserver models it, and what the hot path needs of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from _fastmatch import Rule

from ..errors import PipelineError
from ..model import LEVEL_RANK


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
    rank: int  # position of ``level`` in LEVELS


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
            out.append(
                CompiledRule(i, r.level, frozenset(global_stages | set(r.omitStages)), omf, LEVEL_RANK.get(r.level, 0))
            )
        return out

    @property
    def default_omit_stages(self) -> frozenset[str]:
        return frozenset(self.policy.omitStages)
