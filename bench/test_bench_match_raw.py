"""Per-request cost of ``first()``: CMatcher against PyMatcher, raw tuples.

Unlike ``test_bench_match.py`` this needs nothing from ``pipeline``: rules and
requests are builtins drawn from a seeded generator. Every rule but the last
tenth is a decoy holding one selector no request satisfies, so a linear scan
walks nearly the whole policy; the last tenth are live rules and the final one
is a catch-all. That is the worst case for PyMatcher and, by design, makes no
difference to CMatcher.

Run with pytest-benchmark (``pytest bench/test_bench_match_raw.py``), or as a
script for a quick table: ``python -m bench.test_bench_match_raw``.
"""

from __future__ import annotations

import importlib
import os
import random
from typing import Any

import pytest

from _fastmatch import PyMatcher

USERS = [
    "system:kube-proxy",
    "system:kube-scheduler",
    "alice",
    "bob",
    "system:serviceaccount:kube-system:replicaset-controller",
    "system:node:worker-1",
]
GROUPS = ["system:authenticated", "system:nodes", "system:serviceaccounts", "devs"]
VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
NAMESPACES = ["", "default", "kube-system", "prod", "kube-node-lease"]
RESOURCES = [
    ("", "pods", ""),
    ("", "pods", "log"),
    ("", "pods", "status"),
    ("", "secrets", ""),
    ("", "configmaps", ""),
    ("apps", "deployments", ""),
    ("apps", "deployments", "scale"),
    ("coordination.k8s.io", "leases", ""),
    ("", "events", ""),
    ("", "nodes", "status"),
]
PATHS = ["/healthz", "/readyz", "/livez", "/version", "/openapi/v2", "/apis", "/api", "/metrics"]

ABSENT_USERS = [f"absent-user-{i}" for i in range(50)]
ABSENT_VERBS = ["escalate", "bind", "impersonate", "approve"]
ABSENT_NAMESPACES = [f"absent-ns-{i}" for i in range(50)]
ABSENT_RESOURCES = [
    ("example.com", "widgets"),
    ("acme.io", "gadgets"),
    ("", "pods/portforward"),
    ("", "nodes/proxy"),
    ("apps", "pods"),
    ("policy", "podsecuritypolicies"),
]
ABSENT_URLS = ["/logs*", "/debug/*", "/ui/*", "/swagger*", "/configz"]

LIVE: list[tuple[Any, ...]] = [
    (("system:kube-proxy",), (), ("watch",), (), (("", ("endpoints", "services"), ()),), (), ()),
    (
        (),
        ("system:nodes",),
        ("get", "update"),
        ("kube-node-lease",),
        (("coordination.k8s.io", ("leases",), ()),),
        (),
        (),
    ),
    ((), (), (), (), (), ("/healthz*", "/livez*", "/readyz*", "/version"), ()),
    ((), (), (), (), (("", ("events",), ()),), (), ()),
    ((), (), (), (), (("", ("secrets", "configmaps"), ()),), (), ()),
    ((), (), (), (), (("", ("pods/*",), ()), ("*", ("*/scale",), ())), (), ()),
    ((), (), ("get", "list", "watch"), (), (("", (), ()), ("apps", (), ())), (), ()),
]
CATCH_ALL: tuple[Any, ...] = ((), (), (), (), (), (), ())


def make_rules(n: int, seed: int = 0) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    n_live = max(1, n // 10)
    rules: list[tuple[Any, ...]] = []
    for _ in range(n - n_live):
        users = tuple(rng.sample(USERS, rng.randint(0, 2)))
        groups = tuple(rng.sample(GROUPS, rng.randint(0, 1)))
        verbs = tuple(rng.sample(VERBS, rng.randint(0, 3)))
        namespaces: tuple[str, ...] = ()
        resources: tuple[Any, ...] = ()
        urls: tuple[str, ...] = ()
        poison = rng.choice(["user", "verb", "namespace", "resource", "url"])
        if poison == "user":
            users = tuple(rng.sample(ABSENT_USERS, rng.randint(1, 3)))
        elif poison == "verb":
            verbs = (rng.choice(ABSENT_VERBS),)
        elif poison == "namespace":
            namespaces = tuple(rng.sample(ABSENT_NAMESPACES, 2))
            resources = ((rng.choice(RESOURCES)[0], (rng.choice(RESOURCES)[1],), ()),)
        elif poison == "resource":
            namespaces = tuple(rng.sample(NAMESPACES, rng.randint(0, 2)))
            resources = tuple((g, (r,), ()) for g, r in rng.sample(ABSENT_RESOURCES, 2))
        else:
            urls = tuple(rng.sample(ABSENT_URLS, 2))
        rules.append((users, groups, verbs, namespaces, resources, urls, ()))
    rules.extend(LIVE[i % len(LIVE)] for i in range(n_live - 1))
    rules.append(CATCH_ALL)
    return rules


def make_requests(count: int, seed: int = 1) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        user = rng.choice(USERS)
        groups = tuple(rng.sample(GROUPS, rng.randint(1, 2)))
        if rng.random() < 0.8:
            group, resource, sub = rng.choice(RESOURCES)
            out.append(
                (
                    user,
                    groups,
                    rng.choice(VERBS),
                    rng.choice(NAMESPACES),
                    group,
                    resource,
                    sub,
                    rng.choice(["", "web-1", "db-0"]),
                    "/api/v1/x",
                    True,
                    "",
                )
            )
        else:
            out.append((user, groups, "get", "", "", "", "", "", rng.choice(PATHS), False, ""))
    return out


def _impls() -> list[str]:
    try:
        importlib.import_module("_fastmatch._matcher_c")
    except ImportError:
        if os.environ.get("AUDITPIPE_NO_EXTENSIONS"):
            return ["py"]
        raise
    return ["c", "py"]


def _cls(impl: str) -> Any:
    if impl == "c":
        return importlib.import_module("_fastmatch._matcher_c").CMatcher
    return PyMatcher


REQUESTS = make_requests(1000)


@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("rules", [10, 100, 1000])
def test_first_per_request(benchmark: Any, impl: str, rules: int) -> None:
    policy = make_rules(rules)
    matcher = _cls(impl)(policy)
    benchmark.group = f"first() x 1000 requests, {rules} rules"
    benchmark.name = f"first[{impl}-{rules}]"

    def loop() -> list[int]:
        first = matcher.first
        return [first(r) for r in REQUESTS]

    result = benchmark(loop)
    # Most requests fall through to the last tenth of the policy.
    assert sum(r >= rules - max(1, rules // 10) for r in result) > 0.9 * len(result)


@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("rules", [10, 1000])
def test_first_many(benchmark: Any, impl: str, rules: int) -> None:
    matcher = _cls(impl)(make_rules(rules))
    benchmark.group = f"first_many(1000 requests), {rules} rules"
    benchmark.name = f"first_many[{impl}-{rules}]"
    result = benchmark(matcher.first_many, REQUESTS)
    assert len(result) == len(REQUESTS)


def _table() -> None:
    import timeit

    reqs = REQUESTS
    base = min(timeit.repeat(lambda: [None for r in reqs], number=20, repeat=5)) / (20 * len(reqs))
    print(f"empty list-comprehension loop: {base * 1e9:.0f} ns/request (included below)")
    print(f"{'rules':>6} {'impl':>5} {'first() ns':>11} {'first_many ns':>14} {'all() ns':>9}  late-share")
    for n in (10, 100, 1000):
        policy = make_rules(n)
        for impl in _impls():
            m = _cls(impl)(policy)
            number = 20 if impl == "c" else max(1, 2000 // n)
            first = m.first
            t1 = min(timeit.repeat(lambda first=first: [first(r) for r in reqs], number=number, repeat=5))
            t2 = min(timeit.repeat(lambda m=m: m.first_many(reqs), number=number, repeat=5))
            all_ = m.all
            t3 = min(timeit.repeat(lambda all_=all_: [all_(r) for r in reqs], number=number, repeat=5))
            late = sum(r >= n - max(1, n // 10) for r in m.first_many(reqs)) / len(reqs)
            per = number * len(reqs)
            print(
                f"{n:>6} {impl:>5} {t1 / per * 1e9:>11.0f} {t2 / per * 1e9:>14.0f} {t3 / per * 1e9:>9.0f}  {late:.0%}"
            )


if __name__ == "__main__":
    _table()
