"""Say, for one request, which policy rule matched and why.

The matcher answers "which rule". To say *why*, the matched rule is taken
apart into one-entry rules (one per group, resource pattern or URL) and the
same matcher is asked which of those the request matches. No matching
semantics are written here a second time, so ``explain`` cannot disagree
with ``filter``.
"""

from __future__ import annotations

from typing import Any

from _fastmatch import Matcher, Request, Rule

from .policy import PolicyRule

_ANY: tuple[str, ...] = ()


def _only(
    *,
    groups: tuple[str, ...] = (),
    resources: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (),
    urls: tuple[str, ...] = (),
) -> Rule:
    return (_ANY, groups, _ANY, _ANY, resources, urls, _ANY)


def _first_hit(candidates: list[Rule], req: Request) -> int:
    return Matcher(candidates).first(req) if candidates else -1


def _why_resource(rule: PolicyRule, req: Request) -> list[str]:
    reasons = []
    if rule.namespaces:
        reasons.append(f"namespaces contains {req[3]!r}")
    if not rule.resources:
        return reasons
    labels: list[str] = []
    candidates: list[Rule] = []
    for gr in rule.resources:
        group = "any group" if gr.group == "*" else f"group {gr.group!r}"
        names = tuple(gr.resourceNames)
        if not gr.resources:
            candidates.append(_only(resources=((gr.group, (), names),)))
            labels.append(f"resources: {group} with no resource list (all resources)")
            continue
        for pattern in gr.resources:
            candidates.append(_only(resources=((gr.group, (pattern,), names),)))
            combined = f"{req[5]}/{req[6]}" if req[6] else req[5]
            named = f" and resourceNames contains {req[7]!r}" if names else ""
            labels.append(f"resources: {group} pattern {pattern!r} matches {combined!r}{named}")
    hit = _first_hit(candidates, req)
    if hit >= 0:
        reasons.append(labels[hit])
    return reasons


def why(rule: PolicyRule, req: Request) -> list[str]:
    """Reasons ``rule`` matched request ``req`` (one per constraining field)."""
    reasons: list[str] = []
    if rule.users:
        reasons.append(f"users contains {req[0]!r}")
    if rule.userGroups:
        hit = _first_hit([_only(groups=(g,)) for g in rule.userGroups], req)
        reasons.append(f"userGroups contains {rule.userGroups[hit]!r}" if hit >= 0 else "userGroups")
    if rule.verbs:
        reasons.append(f"verbs contains {req[2]!r}")
    if rule.namespaces or rule.resources:
        reasons.extend(_why_resource(rule, req))
    elif rule.nonResourceURLs:
        hit = _first_hit([_only(urls=(u,)) for u in rule.nonResourceURLs], req)
        if hit >= 0:
            reasons.append(f"nonResourceURLs entry {rule.nonResourceURLs[hit]!r} matches path {req[8]!r}")
    if not reasons:
        reasons.append("the rule has no selectors: it matches every request")
    return reasons


def describe_request(req: tuple[Any, ...]) -> str:
    user = "<no user>" if req[0] is None else req[0]
    if req[9]:
        target = req[5] + (f"/{req[6]}" if req[6] else "")
        where = f" in namespace {req[3]!r}" if req[3] else ""
        group = f"{req[4]}/" if req[4] else ""
        name = f" {req[7]!r}" if req[7] else ""
        return f"{user} {req[2]} {group}{target}{name}{where}"
    return f"{user} {req[2]} {req[8]} (non-resource)"
