"""kube-apiserver's policy validation (validation.go), with its messages as
apimachinery prints them. Routing selectors are checked with the same rules."""

from __future__ import annotations

import json
import re
from typing import Any

from ..model import LEVELS, STAGES
from .model import Policy, PolicyRule, RuleFields

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1123_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    r"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_STAGES_MSG = "allowed stages are " + ",".join(STAGES)


def quote(value: Any) -> str:
    """A value as apimachinery >= 1.34 prints it: strings quoted, lists as JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def selecting_fields(rule: RuleFields, p: str) -> list[str]:
    """Errors in the fields a policy rule and a routing selector share."""
    errors: list[str] = []
    for j, url in enumerate(rule.nonResourceURLs):
        if url == "*":
            continue
        if not url.startswith("/"):
            errors.append(
                f"{p}.nonResourceURLs[{j}]: Invalid value: {quote(url)}: "
                "non-resource URL rules must begin with a '/' character"
            )
        if url and "*" in url[:-1]:
            errors.append(
                f"{p}.nonResourceURLs[{j}]: Invalid value: {quote(url)}: "
                "non-resource URL wildcards '*' must be the final character of the rule"
            )
    for gr in rule.resources:
        if gr.group not in ("", "*"):
            msgs = []
            if len(gr.group) > 253:
                msgs.append("must be no more than 253 characters")
            if not _DNS1123_SUBDOMAIN.match(gr.group):
                msgs.append(_DNS1123_MSG)
            if msgs:
                errors.append(f"{p}.resources.group: Invalid value: {quote(gr.group)}: {','.join(msgs)}")
        if gr.resourceNames and not gr.resources:
            errors.append(
                f"{p}.resources.resourceNames: Invalid value: {quote(list(gr.resourceNames))}: "
                "using resourceNames requires at least one resource"
            )
    return errors


def _rule(rule: PolicyRule, p: str) -> list[str]:
    errors: list[str] = []
    if rule.level == "":
        errors.append(f"{p}.level: Required value")
    elif rule.level not in LEVELS:
        supported = ", ".join(quote(level) for level in LEVELS)
        errors.append(f"{p}.level: Unsupported value: {quote(rule.level)}: supported values: {supported}")
    # kube checks URLs, then resources, then stages, then the mix of both kinds.
    errors.extend(selecting_fields(rule, p))
    for k, stage in enumerate(rule.omitStages):
        if stage not in STAGES:
            errors.append(f"{p}.omitStages[{k}]: Invalid value: {quote(stage)}: {_STAGES_MSG}")
    if rule.nonResourceURLs and (rule.resources or rule.namespaces):
        errors.append(
            f"{p}.nonResourceURLs: Invalid value: {quote(rule.nonResourceURLs)}: "
            "rules cannot apply to both regular resources and non-resource URLs"
        )
    return errors


def validate(policy: Policy) -> list[str]:
    """Every validation error, in kube-apiserver's order and wording."""
    errors: list[str] = []
    for i, stage in enumerate(policy.omitStages):
        if stage not in STAGES:
            errors.append(f"omitStages[{i}]: Invalid value: {quote(stage)}: {_STAGES_MSG}")
    for i, rule in enumerate(policy.rules):
        errors.extend(_rule(rule, f"rules[{i}]"))
    return errors
