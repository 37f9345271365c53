"""Reference matcher: kube-apiserver's audit-policy checker, written plainly.

This twin is the specification. It scans the rules in order and applies
exactly the checks of kube-apiserver's ``pkg/audit/policy/checker.go``; the
Cython twin (``_matcher_c.pyx``) must answer identically, and a differential
test holds them to that.

Both twins take builtins only.

A *rule* is a 7-tuple of tuples of strings (an empty tuple means "any")::

    (users, user_groups, verbs, namespaces, resources, non_resource_urls, levels)

where ``resources`` is a tuple of ``(group, resources, resource_names)``
triples, exactly as in a Policy's ``GroupResources``. ``levels`` is not part
of a Policy: routing selectors use it to select on the applied level; policy
rules pass ``()``.

A *request* is an 11-tuple::

    (user, groups, verb, namespace, api_group, resource, subresource, name,
     path, is_resource_request, level)

``user`` is ``None`` for a request with no authenticated user (the nil user of
failed authentication); rules that list users or groups never match it.
``path`` is the URL path without its query string.
"""

from __future__ import annotations

from collections.abc import Sequence

Rule = tuple[
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...],
    tuple[str, ...],
    tuple[str, ...],
]
Request = tuple["str | None", tuple[str, ...], str, str, str, str, str, str, str, bool, str]

__all__ = ["PyMatcher", "normalize"]


def normalize(rules: Sequence[Rule]) -> tuple[Rule, ...]:
    """The rules as tuples all the way down (lists are accepted); both twins use this."""
    return tuple(
        (
            tuple(r[0]),
            tuple(r[1]),
            tuple(r[2]),
            tuple(r[3]),
            tuple((g, tuple(rs), tuple(ns)) for g, rs, ns in r[4]),
            tuple(r[5]),
            tuple(r[6]),
        )
        for r in rules
    )


def _resource_match(rule: Rule, req: Request) -> bool:
    namespaces, resources = rule[3], rule[4]
    if not req[9]:
        return False
    if namespaces and req[3] not in namespaces:
        return False
    if not resources:
        return True
    api_group, resource, subresource, name = req[4], req[5], req[6], req[7]
    combined = resource + "/" + subresource if subresource else resource
    for group, patterns, names in resources:
        if group != api_group and group != "*":
            continue
        if not patterns:
            return True
        for pattern in patterns:
            if names and name not in names:
                continue
            if pattern == combined or pattern == "*":
                return True
            if pattern.startswith("*/") and subresource and pattern[2:] == subresource:
                return True
            if pattern.endswith("/*") and pattern[:-2] == resource:
                return True
    return False


def _non_resource_match(rule: Rule, req: Request) -> bool:
    if req[9]:
        return False
    path = req[8]
    for url in rule[5]:
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def _rule_matches(rule: Rule, req: Request) -> bool:
    users, groups, verbs, namespaces, resources, urls, levels = rule
    user = req[0]
    if users and (user is None or user not in users):
        return False
    if groups and (user is None or not any(g in groups for g in req[1])):
        return False
    if verbs and req[2] not in verbs:
        return False
    if levels and req[10] not in levels:
        return False
    if namespaces or resources:
        return _resource_match(rule, req)
    if urls:
        return _non_resource_match(rule, req)
    return True


class PyMatcher:
    """Answer which rules a request matches.

    Parameters
    ----------
    rules
        The rules, in policy order (see the module docstring for the shape).
    """

    __slots__ = ("_rules",)

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules: tuple[Rule, ...] = normalize(rules)

    def __len__(self) -> int:
        return len(self._rules)

    def first(self, request: Request) -> int:
        """Index of the first rule the request matches, or -1."""
        for index, rule in enumerate(self._rules):
            if _rule_matches(rule, request):
                return index
        return -1

    def all(self, request: Request) -> int:
        """Bit mask of every rule the request matches (bit i is rule i)."""
        mask = 0
        for index, rule in enumerate(self._rules):
            if _rule_matches(rule, request):
                mask |= 1 << index
        return mask

    def first_many(self, requests: Sequence[Request]) -> list[int]:
        """``first`` for a whole batch in one call."""
        return [self.first(r) for r in requests]

    def all_many(self, requests: Sequence[Request]) -> list[int]:
        """``all`` for a whole batch in one call."""
        return [self.all(r) for r in requests]
