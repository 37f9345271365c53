"""Say, for one request, which policy rule matched and why.

The matcher answers "which rule"; this module re-checks that rule field by
field with the reference semantics to say *why*, in words an operator can
check against the policy file.
"""

from __future__ import annotations

from typing import Any

from .policy import PolicyRule


def _why_resource(rule: PolicyRule, req: tuple[Any, ...]) -> list[str]:
    api_group, resource, sub, name = req[4], req[5], req[6], req[7]
    combined = f"{resource}/{sub}" if sub else resource
    reasons = []
    if rule.namespaces:
        reasons.append(f"namespaces contains {req[3]!r}")
    if not rule.resources:
        return reasons
    for gr in rule.resources:
        if gr.group != api_group and gr.group != "*":
            continue
        group = "any group" if gr.group == "*" else f"group {gr.group!r}"
        if not gr.resources:
            reasons.append(f"resources: {group} with no resource list (all resources)")
            return reasons
        for pattern in gr.resources:
            if gr.resourceNames and name not in gr.resourceNames:
                continue
            hit = (pattern == combined or pattern == "*"
                   or (pattern.startswith("*/") and bool(sub) and pattern[2:] == sub)
                   or (pattern.endswith("/*") and pattern[:-2] == resource))
            if hit:
                named = f" and resourceNames contains {name!r}" if gr.resourceNames else ""
                reasons.append(f"resources: {group} pattern {pattern!r} matches {combined!r}{named}")
                return reasons
    return reasons


def why(rule: PolicyRule, req: tuple[Any, ...]) -> list[str]:
    """Reasons ``rule`` matched request ``req`` (one per constraining field)."""
    reasons: list[str] = []
    if rule.users:
        reasons.append(f"users contains {req[0]!r}")
    if rule.userGroups:
        groups = [g for g in req[1] if g in rule.userGroups]
        reasons.append(f"userGroups contains {groups[0]!r}" if groups else "userGroups")
    if rule.verbs:
        reasons.append(f"verbs contains {req[2]!r}")
    if rule.namespaces or rule.resources:
        reasons.extend(_why_resource(rule, req))
    elif rule.nonResourceURLs:
        path = req[8]
        for url in rule.nonResourceURLs:
            if url == "*" or url == path or (url.endswith("*") and path.startswith(url.rstrip("*"))):
                reasons.append(f"nonResourceURLs entry {url!r} matches path {path!r}")
                break
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
