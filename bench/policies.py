"""Large seeded policies for the matcher's compile benchmarks, as matcher rules (builtins).

Each generator returns ``n`` rules in the shape ``_fastmatch`` takes (see ``_fastmatch._matcher_py``):

- :func:`realistic`: a multi-tenant cluster's policy. Many users, service accounts, groups,
  namespaces, API groups (CRDs per tenant), resource names and URL prefixes, each named by a
  handful of rules, plus popular values (``get``, ``pods``, ``system:authenticated``) named by
  thousands. Wildcard patterns (``*``, ``x/*``, ``*/status``) and rules of all three kinds.
- :func:`distinct`: the adversary for per-value indexes: every rule names values no other rule
  names, in every field (users, groups, verbs, namespaces, API groups, patterns of every form,
  resource names, URLs, levels).
- :func:`same`: the adversary for per-rule work: every rule names the same values.
- :func:`decoys`: ``bench.data.make_rules`` through ``pipeline.policy``, the policy of the
  evaluation benchmarks (decoys first, live rules last).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, Final

Rule = tuple[Any, ...]

_VERBS: Final = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
_CORE: Final = (
    "pods",
    "secrets",
    "configmaps",
    "services",
    "endpoints",
    "events",
    "nodes",
    "serviceaccounts",
    "persistentvolumeclaims",
    "pods/log",
    "pods/exec",
    "pods/status",
    "nodes/status",
    "*",
    "pods/*",
    "*/status",
    "*/scale",
)
_GROUPS: Final = (
    "",
    "apps",
    "batch",
    "coordination.k8s.io",
    "rbac.authorization.k8s.io",
    "networking.k8s.io",
    "policy",
    "storage.k8s.io",
    "discovery.k8s.io",
    "*",
)
_ENVS: Final = ("dev", "staging", "prod", "ci")


def realistic(n: int, seed: int = 0) -> list[Rule]:
    """A multi-tenant policy: ``n // 20`` tenants, each with its users, groups, namespaces, CRDs and URLs."""
    rng = random.Random(seed)
    tenants = max(1, n // 20)
    people = max(1, n // 5)
    rules: list[Rule] = []
    for _ in range(n):
        t = rng.randrange(tenants)
        kind = rng.random()
        users: tuple[str, ...] = ()
        if rng.random() < 0.5:
            users = tuple(
                f"system:serviceaccount:tenant-{t}:sa-{rng.randrange(5)}"
                if rng.random() < 0.5
                else f"user-{rng.randrange(people)}@corp.example"
                for _ in range(rng.randint(1, 3))
            )
        groups: tuple[str, ...] = ()
        if rng.random() < 0.3:
            groups = (f"oidc:tenant-{t}-{rng.choice(('admins', 'devs', 'viewers'))}",)
            if rng.random() < 0.3:
                groups += ("system:authenticated",)
        verbs = tuple(rng.sample(_VERBS, rng.randint(1, 4))) if rng.random() < 0.5 else ()
        namespaces: tuple[str, ...] = ()
        resources: tuple[Any, ...] = ()
        urls: tuple[str, ...] = ()
        if kind < 0.7:
            if rng.random() < 0.6:
                namespaces = tuple(f"tenant-{t}-{env}" for env in rng.sample(_ENVS, rng.randint(1, 2)))
            entries = []
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.3:
                    group, patterns = f"tenant-{t}.example.com", (f"widgets-{rng.randrange(4)}", "gadgets/*")
                else:
                    group, patterns = rng.choice(_GROUPS), tuple(rng.sample(_CORE, rng.randint(0, 3)))
                names = (f"tenant-{t}-cm-{rng.randrange(10)}",) if patterns and rng.random() < 0.1 else ()
                entries.append((group, patterns, names))
            resources = tuple(entries)
        elif kind < 0.85:
            urls = tuple(
                rng.choice(
                    (
                        f"/apis/tenant-{t}.example.com/v1/*",
                        f"/debug/tenant-{t}*",
                        "/healthz*",
                        "/metrics",
                        f"/api/v1/namespaces/tenant-{t}-prod/*",
                        "*",
                    )
                )
                for _ in range(rng.randint(1, 3))
            )
        rules.append((users, groups, verbs, namespaces, resources, urls, ()))
    return rules


def distinct(n: int, seed: int = 0) -> list[Rule]:
    """Every rule names values that no other rule names, in every field."""
    rules: list[Rule] = []
    for i in range(n):
        users, groups, verbs, levels = (f"user-{i}",), (f"group-{i}",), (f"verb-{i}",), (f"level-{i}",)
        if i % 2 == 0:
            patterns = (f"res-{i}", f"res-{i}/sub-{i}", f"*/sub-{i}", f"pre-{i}/*")
            resources = ((f"group-{i}.example.com", patterns, (f"name-{i}",)),)
            rules.append((users, groups, verbs, (f"ns-{i}",), resources, (), levels))
        else:
            rules.append((users, groups, verbs, (), (), (f"/path-{i}/*", f"/exact-{i}"), levels))
    return rules


def same(n: int, seed: int = 0) -> list[Rule]:
    """Every rule names the same values (alternately as a resource rule and a non-resource rule)."""
    resource_rule: Rule = (
        ("alice", "bob"),
        ("devs",),
        ("get", "list"),
        ("default",),
        (("", ("pods", "pods/log", "*/status", "secrets/*"), ()), ("apps", (), ())),
        (),
        (),
    )
    url_rule: Rule = (("alice", "bob"), ("devs",), ("get", "list"), (), (), ("/api*", "/healthz"), ())
    return [resource_rule if i % 2 == 0 else url_rule for i in range(n)]


def decoys(n: int, seed: int = 7) -> list[Rule]:
    """The evaluation benchmarks' policy (``bench.data.make_rules``), converted as the pipeline does."""
    from bench.data import make_rules
    from pipeline import policy as policy_mod

    doc = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": make_rules(n, seed)}
    rules: list[Rule] = policy_mod.from_mapping(doc).matcher_rules()
    return rules


GENERATORS: Final[dict[str, Callable[[int, int], list[Rule]]]] = {
    "realistic": realistic,
    "distinct": distinct,
    "same": same,
    "decoys": lambda n, seed: decoys(n, 7 + seed),
}
