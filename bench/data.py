"""Benchmark inputs: seeded audit Policy rules made to be the worst case for the generated stream.

The events themselves come from :mod:`pipeline.generate` (``make_events`` is
re-exported here only for ``bench/e2e.py``, which imports it from this module).

:func:`make_rules` builds the worst case for a policy engine that scans rules in
order: every rule but the last few is a *decoy* that looks like a real rule (it
names users, groups, verbs, resources, namespaces and paths that occur in the
generated stream, mixed with many that do not) but always holds one selector
that no generated event satisfies. That selector is usually a late one in
kube-apiserver's check order (resources, namespaces, nonResourceURLs), so a
linear scan has to compare the earlier selectors before it can reject the rule.
The last tenth of the rules are realistic rules that do match parts of the
stream, and the final rule is the catch-all ``{"level": "Metadata"}``. So nearly
every event is decided in the last tenth of the policy.
"""

from __future__ import annotations

import random
from typing import Any, Final

from pipeline.generate import VOCABULARY, make_events

__all__ = ["make_events", "make_rules"]

_LEVELS: Final = ("None", "Metadata", "Request", "RequestResponse")
_WORDS: Final = (
    "alpha",
    "billing",
    "canary",
    "delta",
    "edge",
    "finance",
    "gamma",
    "harbor",
    "ingest",
    "jupyter",
    "kafka",
    "legacy",
    "mesh",
    "nightly",
    "ops",
    "portal",
    "quant",
    "reporting",
    "sandbox",
    "tenant",
    "vault",
    "warehouse",
)

# Names that never occur in the generated stream (checked against VOCABULARY below).
_ABSENT_VERBS: Final = ("deletecollection", "proxy", "escalate", "bind", "impersonate", "approve", "use")
_ABSENT_RESOURCES: Final = (
    ("example.com", "widgets"),
    ("acme.io", "gadgets"),
    ("bitnami.com", "sealedsecrets"),
    ("networking.istio.io", "virtualservices"),
    ("networking.k8s.io", "ingresses"),
    ("networking.k8s.io", "networkpolicies"),
    ("batch", "cronjobs/status"),
    ("", "pods/log"),
    ("", "pods/portforward"),
    ("", "serviceaccounts/token"),
    ("", "nodes/proxy"),
    ("apps", "pods"),
    ("rbac.authorization.k8s.io", "roles"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
    ("certificates.k8s.io", "certificatesigningrequests"),
    ("", "replicationcontrollers"),
    ("snapshot.storage.k8s.io", "volumesnapshots"),
    ("policy", "podsecuritypolicies"),
    ("", "componentstatuses"),
)
_ABSENT_URLS: Final = (
    "/ui/*",
    "/swagger*",
    "/internal/*",
    "/metrics/slis",
    "/configz",
    "/flowcontrol*",
    "/statusz",
    "/openid/*",
    "/.well-known/*",
    "/healthz/poststarthook/*",
)
_ABSENT_GROUPS: Final = (
    "system:bootstrappers",
    "system:bootstrappers:kubeadm:default-node-token",
    "oidc:finance",
    "ldap:ops",
    "system:serviceaccounts:legacy",
    "oidc:contractors",
)

# Realistic rules that do match parts of the stream; placed at the end of the policy.
_LIVE_RULES: Final[tuple[dict[str, Any], ...]] = (
    {
        "level": "None",
        "users": ["system:kube-proxy"],
        "verbs": ["watch"],
        "resources": [
            {"group": "", "resources": ["endpoints", "services", "services/status"]},
            {"group": "discovery.k8s.io", "resources": ["endpointslices"]},
        ],
    },
    {
        "level": "None",
        "userGroups": ["system:nodes"],
        "verbs": ["get", "update"],
        "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}],
        "namespaces": ["kube-node-lease"],
    },
    {
        "level": "None",
        "users": ["system:kube-controller-manager", "system:kube-scheduler"],
        "verbs": ["get", "update"],
        "namespaces": ["kube-system"],
        "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}],
    },
    {"level": "None", "nonResourceURLs": ["/healthz*", "/livez*", "/readyz*", "/version"]},
    {
        "level": "None",
        "resources": [{"group": "", "resources": ["events"]}, {"group": "events.k8s.io", "resources": ["events"]}],
    },
    {
        "level": "Request",
        "userGroups": ["system:nodes"],
        "verbs": ["update", "patch"],
        "resources": [{"group": "", "resources": ["nodes/status", "pods/status"]}],
        "omitStages": ["RequestReceived"],
    },
    {
        "level": "Metadata",
        "resources": [{"group": "", "resources": ["secrets", "configmaps"]}],
        "omitStages": ["RequestReceived"],
    },
    {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/exec", "pods/attach"]}]},
    {
        "level": "Request",
        "verbs": ["get", "list", "watch"],
        "resources": [
            {"group": ""},
            {"group": "apps"},
            {"group": "batch"},
            {"group": "policy"},
            {"group": "storage.k8s.io"},
            {"group": "discovery.k8s.io"},
        ],
        "omitStages": ["RequestReceived"],
    },
    {
        "level": "RequestResponse",
        "resources": [{"group": ""}, {"group": "apps"}, {"group": "apiextensions.k8s.io"}],
        "omitStages": ["RequestReceived"],
    },
)


def _url_matches(pattern: str, path: str) -> bool:
    """kube-apiserver's nonResourceURLs test (exact, ``*``, or a trailing-``*`` prefix)."""
    if pattern == "*" or pattern == path:
        return True
    return pattern.endswith("*") and path.startswith(pattern.rstrip("*"))


def _check_absent() -> None:
    # If the generator's vocabulary grows into one of these names, the decoys would start matching.
    known = set(VOCABULARY.resources)
    assert not known & set(_ABSENT_RESOURCES), known & set(_ABSENT_RESOURCES)
    assert not set(VOCABULARY.verbs) & set(_ABSENT_VERBS)
    assert not set(VOCABULARY.groups) & set(_ABSENT_GROUPS)
    assert not any(_url_matches(u, p) for u in _ABSENT_URLS for p in VOCABULARY.paths)


_check_absent()


class _RuleMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Many more absent names than present ones, drawn per seed.
        self.absent_users = (
            [f"system:serviceaccount:{rng.choice(_WORDS)}:{rng.choice(_WORDS)}-{i}" for i in range(40)]
            + [f"{w}-{i}@corp.example" for i, w in enumerate(_WORDS)]
            + [f"system:node:worker-{i}" for i in range(20)]
        )
        self.absent_namespaces = [f"{rng.choice(_WORDS)}-{i}" for i in range(40)]
        assert not set(self.absent_namespaces) & set(VOCABULARY.namespaces)

    def _some(
        self, present: tuple[str, ...] | list[str], absent: tuple[str, ...] | list[str], k_present: int, k_absent: int
    ) -> list[str]:
        rng = self.rng
        picked = rng.sample(list(present), min(k_present, len(present))) + rng.sample(
            list(absent), min(k_absent, len(absent))
        )
        rng.shuffle(picked)
        return picked

    def _resources(self, poison: bool) -> list[dict[str, Any]]:
        rng = self.rng
        if poison:
            entries = rng.sample(_ABSENT_RESOURCES, rng.randint(1, 3))
            out: list[dict[str, Any]] = []
            for group, resource in entries:
                entry: dict[str, Any] = {"group": group, "resources": [resource]}
                if rng.random() < 0.2:
                    entry["resourceNames"] = [f"{rng.choice(_WORDS)}-{rng.randrange(100)}"]
                out.append(entry)
            return out
        out = []
        for group, resource in rng.sample(VOCABULARY.resources, rng.randint(1, 3)):
            form = rng.random()
            if form < 0.15 and "/" not in resource:
                resource = f"{resource}/*"
            elif form < 0.2 and "/" in resource:
                resource = f"*/{resource.split('/', 1)[1]}"
            entry = {"group": group, "resources": [resource]}
            if rng.random() < 0.1:
                entry["resourceNames"] = [rng.choice(("kube-controller-manager", "coredns", "default", "checkout"))]
            out.append(entry)
        return out

    def decoy(self) -> dict[str, Any]:
        """A plausible rule with one selector that no generated event satisfies."""
        rng = self.rng
        kind = rng.choices(("resource", "nonresource", "subject"), (70, 20, 10))[0]
        if kind == "resource":
            poison = rng.choices(("resources", "namespaces", "users", "userGroups", "verbs"), (50, 30, 8, 6, 6))[0]
        elif kind == "nonresource":
            poison = rng.choices(("nonResourceURLs", "users", "verbs"), (80, 10, 10))[0]
        else:
            poison = rng.choice(("users", "userGroups", "verbs"))
        rule: dict[str, Any] = {"level": rng.choice(_LEVELS)}
        if poison == "users" or rng.random() < 0.4:
            k = 0 if poison == "users" else rng.randint(1, 3)
            rule["users"] = self._some(VOCABULARY.users, self.absent_users, k, rng.randint(1, 4))
        if poison == "userGroups" or rng.random() < 0.2:
            k = 0 if poison == "userGroups" else rng.randint(1, 2)
            rule["userGroups"] = self._some(VOCABULARY.groups, _ABSENT_GROUPS, k, rng.randint(1, 2))
        if poison == "verbs" or rng.random() < 0.5:
            k = 0 if poison == "verbs" else rng.randint(1, 4)
            rule["verbs"] = self._some(VOCABULARY.verbs, _ABSENT_VERBS, k, rng.randint(1 if k == 0 else 0, 2))
        if kind == "resource":
            if poison == "resources" or rng.random() < 0.7:
                rule["resources"] = self._resources(poison == "resources")
            if poison == "namespaces" or rng.random() < 0.4:
                k = 0 if poison == "namespaces" else rng.randint(1, 3)
                rule["namespaces"] = self._some(VOCABULARY.namespaces, self.absent_namespaces, k, rng.randint(1, 3))
        elif kind == "nonresource":
            present = [p + ("*" if rng.random() < 0.3 else "") for p in VOCABULARY.paths]
            k = 0 if poison == "nonResourceURLs" else rng.randint(1, 3)
            rule["nonResourceURLs"] = self._some(present, _ABSENT_URLS, k, rng.randint(1, 3))
        if rng.random() < 0.3:
            rule["omitStages"] = rng.choice((["RequestReceived"], ["RequestReceived", "ResponseStarted"]))
        return rule

    def live(self) -> dict[str, Any]:
        """One of the realistic rules, copied so callers may change it."""
        rule = self.rng.choice(_LIVE_RULES)
        return {
            k: ([dict(e) if isinstance(e, dict) else e for e in v] if isinstance(v, list) else v)
            for k, v in rule.items()
        }


_FIELD_ORDER: Final = (
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
)


def _in_go_order(rule: dict[str, Any]) -> dict[str, Any]:
    """PolicyRule keys in Go struct order, as a policy file written from the Go type would have them."""
    return {key: rule[key] for key in _FIELD_ORDER if key in rule}


def make_rules(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` audit.k8s.io/v1 Policy rules as plain dicts; the last is ``{"level": "Metadata"}``.

    The first ~90 % never match a generated event; the rest are realistic rules that do.
    Seeded: the same ``(n, seed)`` always gives the same rules.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    maker = _RuleMaker(random.Random(seed))
    body = n - 1
    live = max(1, body // 10) if body else 0
    rules = [_in_go_order(maker.decoy()) for _ in range(body - live)]
    rules += [_in_go_order(maker.live()) for _ in range(live)]
    rules.append({"level": "Metadata"})
    return rules
