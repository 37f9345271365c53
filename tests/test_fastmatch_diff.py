"""Differential test: the compiled matcher answers exactly like the Python twin.

``PyMatcher`` (a literal transcription of kube-apiserver's checker) is the
specification; ``CMatcher`` answers from indexes. Random policies and requests
are drawn from small shared alphabets so that rules and requests actually meet,
with every wildcard form (``*``, ``*/x``, ``x/*``, ``*/*``, trailing-``*`` URL
prefixes), empty strings, unicode, duplicates, the nil user, overlapping groups
and resourceNames. Each differential test also checks that a good share of its
requests matched something, so it cannot pass vacuously.

If the extension is not built the CMatcher tests fail, unless
``AUDITPIPE_NO_EXTENSIONS`` is set, in which case they are skipped.
"""

from __future__ import annotations

import importlib
import os
import pickle
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from _fastmatch import PyMatcher

NO_EXTENSIONS = bool(os.environ.get("AUDITPIPE_NO_EXTENSIONS"))

# Imported by name: the compiled module may legitimately be absent (its stub,
# _matcher_c.pyi, does not say whether it was built).
CMatcher: Any
_IMPORT_ERROR: ImportError | None
try:
    CMatcher = importlib.import_module("_fastmatch._matcher_c").CMatcher
    _IMPORT_ERROR = None
except ImportError as exc:  # not built (or broken): decided per test below
    CMatcher = None
    _IMPORT_ERROR = exc


def _c() -> Any:
    """The CMatcher class, or fail (skip only when extensions are disabled on purpose)."""
    if CMatcher is not None:
        return CMatcher
    if NO_EXTENSIONS:
        pytest.skip("AUDITPIPE_NO_EXTENSIONS is set and _fastmatch._matcher_c is not built")
    pytest.fail(
        f"_fastmatch._matcher_c is not importable ({_IMPORT_ERROR}); build it with "
        "`python setup.py build_ext --inplace`, or set AUDITPIPE_NO_EXTENSIONS=1 to "
        "test the pure-Python twin only"
    )


# ---------------------------------------------------------------- alphabets
# Small, shared between rules and requests, so that matches happen often.

USERS = ["alice", "bob", "", "système", "system:admin"]
GROUPS = ["system:masters", "devs", "", "ünï", "system:authenticated"]
VERBS = ["get", "list", "watch", "*", ""]
NAMESPACES = ["", "default", "kube-system", "*", "名前"]
API_GROUPS = ["", "apps", "batch", "*"]
RESOURCES = ["pods", "secrets", "*", "", "pods/log", "dé"]
SUBRESOURCES = ["", "log", "status", "*", "é"]
NAMES = ["", "n1", "n2", "ñ", "*"]
# Non-ASCII paths in all three str storage widths (latin-1, UCS-2, UCS-4).
PATHS = [
    "",
    "/",
    "/api",
    "/apis",
    "/api/v1",
    "/api/",
    "/healthz",
    "/healthz/ready",
    "/logs",
    "/logsXYZ",
    "/ü",
    "/名前/x",
    "/😀x",
    "*",
    "/api*",
]
LEVELS = ["", "None", "Metadata", "Request", "RequestResponse"]
# Pattern pieces: combined "res/sub", "*/sub", "res/*", "*/*", "*", "/*", "*/".
PATTERNS = RESOURCES + [f"{r}/{s}" for r in ("pods", "secrets", "*", "", "dé") for s in ("log", "status", "*", "", "é")]
URL_STEMS = PATHS + ["/api/v", "/h", "/lo", "/名", "/😀"]


def _idx(values: list[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """A rule field: often empty ("any"), else 1-3 values, duplicates allowed."""
    return st.one_of(
        st.just(()),
        st.lists(st.sampled_from(values), min_size=1, max_size=3).map(tuple),
    )


group_resources = st.tuples(
    st.sampled_from(API_GROUPS),
    st.one_of(st.just(()), st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3).map(tuple)),
    st.one_of(st.just(()), st.just(()), st.lists(st.sampled_from(NAMES), min_size=1, max_size=2).map(tuple)),
)
urls = st.builds(lambda stem, stars: stem + "*" * stars, st.sampled_from(URL_STEMS), st.sampled_from([0, 0, 1, 2]))

rules = st.tuples(
    _idx(USERS),
    _idx(GROUPS),
    _idx(VERBS),
    _idx(NAMESPACES),
    st.one_of(st.just(()), st.lists(group_resources, min_size=1, max_size=3).map(tuple)),
    st.one_of(st.just(()), st.lists(urls, min_size=1, max_size=3).map(tuple)),
    st.one_of(st.just(()), st.just(()), _idx(LEVELS)),
)

requests = st.tuples(
    st.one_of(st.none(), st.sampled_from(USERS)),
    st.lists(st.sampled_from(GROUPS), max_size=3).map(tuple),
    st.sampled_from(VERBS),
    st.sampled_from(NAMESPACES),
    st.sampled_from(API_GROUPS),
    st.sampled_from(RESOURCES),
    st.sampled_from(SUBRESOURCES),
    st.sampled_from(NAMES),
    st.sampled_from(PATHS),
    st.booleans(),
    st.sampled_from(LEVELS),
)


# Rules that always name a user, so that requests get past the early rules.
restrictive_rules = st.tuples(rules, st.sampled_from(USERS)).map(lambda t: (t[0][0] or (t[1],),) + t[0][1:])


def _kind(rule: Any) -> str:
    if rule[3] or rule[4]:
        return "resources" if rule[4] else "namespaces-only"
    return "urls" if rule[5] else "no-selector"


def _compare(py: PyMatcher, c: Any, policy: list[Any], reqs: list[Any], stats: Counter[str]) -> None:
    firsts = [py.first(r) for r in reqs]
    masks = [py.all(r) for r in reqs]
    for req, want_first, want_all in zip(reqs, firsts, masks):
        assert c.first(req) == want_first, (policy, req)
        assert c.all(req) == want_all, (policy, req)
        stats["requests"] += 1
        if want_first >= 0:
            stats["matched"] += 1
            stats[f"first:{_kind(policy[want_first])}"] += 1
            if want_first >= 64:
                stats["first beyond word 0"] += 1
        if bin(want_all).count("1") > 1:
            stats["several rules"] += 1
    assert c.first_many(reqs) == firsts
    assert c.all_many(reqs) == masks
    assert len(c) == len(py) == len(policy)


def _check_coverage(stats: Counter[str], *, min_match: float, need: tuple[str, ...]) -> None:
    share = stats["matched"] / max(stats["requests"], 1)
    assert share >= min_match, f"only {share:.0%} of requests matched a rule: {dict(stats)}"
    for key in need:
        assert stats[key] > 0, f"no case exercised {key!r}: {dict(stats)}"


# Soak runs: FASTMATCH_DIFF_EXAMPLES=20000 pytest tests/test_fastmatch_diff.py
_SCALE = int(os.environ.get("FASTMATCH_DIFF_EXAMPLES", "300")) / 300

_SETTINGS = dict(
    derandomize=True,  # reproducible in CI; no example database needed
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_differential_small_policies() -> None:
    C = _c()
    stats: Counter[str] = Counter()

    @settings(max_examples=int(300 * _SCALE), **_SETTINGS)  # type: ignore[arg-type]
    @given(st.lists(rules, max_size=24), st.lists(requests, min_size=1, max_size=24))
    def run(policy: list[Any], reqs: list[Any]) -> None:
        py, c = PyMatcher(policy), C(policy)
        before = stats["matched"]
        _compare(py, c, policy, reqs, stats)
        event("some request matched" if stats["matched"] > before else "nothing matched")

    run()
    _check_coverage(
        stats,
        min_match=0.15,  # ~23% with these settings; many drawn policies are tiny
        need=("first:resources", "first:namespaces-only", "first:urls", "first:no-selector", "several rules"),
    )


def test_differential_large_policies() -> None:
    """Hundreds of rules: several bitset words, matches beyond the first word."""
    C = _c()
    stats: Counter[str] = Counter()

    @settings(max_examples=int(40 * _SCALE), **_SETTINGS)  # type: ignore[arg-type]
    @given(
        st.lists(restrictive_rules, min_size=8, max_size=40),
        st.integers(min_value=65, max_value=400),
        st.randoms(use_true_random=False),
        st.lists(rules, max_size=4),
        st.booleans(),
        st.lists(requests, min_size=5, max_size=30),
    )
    def run(base: list[Any], size: int, rnd: random.Random, tail: list[Any], catch_all: bool, reqs: list[Any]) -> None:
        # Drawing hundreds of rules one by one is slow for hypothesis; expanding
        # a drawn base (with duplicates, in a drawn order) is not.
        policy = [rnd.choice(base) for _ in range(size)] + tail + [((),) * 7] * catch_all
        py, c = PyMatcher(policy), C(policy)
        _compare(py, c, policy, reqs, stats)

    run()
    _check_coverage(stats, min_match=0.3, need=("first beyond word 0", "several rules"))


# ------------------------------------------------- plain seeded random loops


def _rand_rule(rng: random.Random, p_empty: float = 0.5) -> tuple[Any, ...]:
    def field(values: list[str], p: float = p_empty) -> tuple[str, ...]:
        if rng.random() < p:
            return ()
        return tuple(rng.choice(values) for _ in range(rng.randint(1, 3)))

    kind = rng.random()
    resources: tuple[Any, ...] = ()
    namespaces: tuple[str, ...] = ()
    url_list: tuple[str, ...] = ()
    if kind < 0.5:
        namespaces = field(NAMESPACES)
        if not namespaces or rng.random() < 0.7:
            resources = tuple(
                (
                    rng.choice(API_GROUPS),
                    field(PATTERNS, 0.15),
                    field(NAMES, 0.7),
                )
                for _ in range(rng.randint(1, 3))
            )
    elif kind < 0.8:
        url_list = tuple(rng.choice(URL_STEMS) + "*" * rng.choice([0, 0, 1, 2]) for _ in range(rng.randint(1, 3)))
    return (
        field(USERS),
        field(GROUPS),
        field(VERBS),
        namespaces,
        resources,
        url_list,
        field(LEVELS, 0.8),
    )


def _rand_request(rng: random.Random) -> tuple[Any, ...]:
    return (
        None if rng.random() < 0.1 else rng.choice(USERS),
        tuple(rng.choice(GROUPS) for _ in range(rng.randint(0, 3))),
        rng.choice(VERBS),
        rng.choice(NAMESPACES),
        rng.choice(API_GROUPS),
        rng.choice(RESOURCES),
        rng.choice(SUBRESOURCES),
        rng.choice(NAMES),
        rng.choice(PATHS),
        rng.random() < 0.6,
        rng.choice(LEVELS),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_differential_random_1000_rules(seed: int) -> None:
    C = _c()
    rng = random.Random(seed)
    stats: Counter[str] = Counter()
    # Mostly restrictive rules (three identity fields set), so that requests
    # reach deep into the policy, then a few looser ones.
    policy = [_rand_rule(rng, p_empty=0.2) for _ in range(990)] + [_rand_rule(rng) for _ in range(10)]
    reqs = [_rand_request(rng) for _ in range(300)]
    _compare(PyMatcher(policy), C(policy), policy, reqs, stats)
    _check_coverage(stats, min_match=0.3, need=("first beyond word 0", "several rules"))


@pytest.mark.parametrize("size", [0, 1, 2, 63, 64, 65, 127, 128, 129, 191, 192, 193])
def test_differential_word_boundaries(size: int) -> None:
    C = _c()
    rng = random.Random(size)
    policy = [_rand_rule(rng, p_empty=0.3) for _ in range(size)]
    reqs = [_rand_request(rng) for _ in range(200)]
    # Also a catch-all at the very last position, to hit the top bit.
    for pol in (policy, policy + [((),) * 7]):
        _compare(PyMatcher(pol), C(pol), pol, reqs, Counter())


def test_many_hits_are_folded() -> None:
    """More matching groups / URL stems than the matcher keeps as pointers."""
    C = _c()
    groups = [f"g{i}" for i in range(60)]
    stems = ["/" + "a" * k for k in range(1, 70)]
    policy: list[Any] = []
    for i in range(200):
        policy.append(((), (groups[i % 60], groups[(i * 7) % 60]), (), (), (), (), ()))
        policy.append(((), (), (), (), (), (stems[i % 69] + "*" * (1 + i % 2),), ()))
        policy.append(((), (), (), (), (), (stems[(i * 5) % 69],), ()))
    reqs = [
        ("u", tuple(groups[j] for j in range(0, 60, step)), "get", "", "", "", "", "", "/" + "a" * k, k % 2 == 0, "")
        for step in (1, 2, 7)
        for k in (0, 1, 30, 68, 69, 80)
    ]
    stats: Counter[str] = Counter()
    _compare(PyMatcher(policy), C(policy), policy, reqs, stats)
    assert stats["several rules"] == len(reqs)


# --------------------------------------------------------- fixed semantics


def _rule(**kw: Any) -> tuple[Any, ...]:
    fields = ("users", "groups", "verbs", "namespaces", "resources", "urls", "levels")
    return tuple(kw.get(f, ()) for f in fields)


def _req(
    user: str | None = "alice",
    groups: tuple[str, ...] = (),
    verb: str = "get",
    namespace: str = "",
    api_group: str = "",
    resource: str = "pods",
    subresource: str = "",
    name: str = "",
    path: str = "/api/v1/pods",
    is_resource: bool = True,
    level: str = "",
) -> tuple[Any, ...]:
    return (user, groups, verb, namespace, api_group, resource, subresource, name, path, is_resource, level)


SEMANTICS = [
    # (rule, request, matches)
    (_rule(resources=(("", ("pods/*",), ()),)), _req(), True),  # pods/* matches plain pods
    (_rule(resources=(("", ("pods/*",), ()),)), _req(subresource="log"), True),
    (_rule(resources=(("", ("pods",), ()),)), _req(subresource="log"), False),
    (_rule(resources=(("", ("*/log",), ()),)), _req(subresource="log"), True),
    (_rule(resources=(("", ("*/log",), ()),)), _req(resource="log"), False),
    (_rule(resources=(("", ("*/*",), ()),)), _req(subresource="log"), False),
    (_rule(resources=(("", ("*",), ()),)), _req(subresource="log"), True),
    (_rule(resources=(("*", ("pods",), ()),)), _req(api_group="apps"), True),
    (_rule(resources=(("", ("pods",), ()),)), _req(api_group="apps"), False),
    (_rule(resources=(("", (), ("x",)),)), _req(name="y"), True),  # names ignored without patterns
    (_rule(resources=(("", ("pods",), ("x",)),)), _req(name=""), False),
    (_rule(resources=(("", ("pods",), ("x",)),)), _req(name="x"), True),
    (_rule(namespaces=("",)), _req(), True),
    (_rule(namespaces=("default",)), _req(), False),
    (_rule(namespaces=("",), urls=("*",)), _req(is_resource=False), False),  # R kind: URLs ignored
    (_rule(urls=("/api*",)), _req(path="/apis", is_resource=False), True),
    (_rule(urls=("/api/*",)), _req(path="/api", is_resource=False), False),
    (_rule(urls=("/api**",)), _req(path="/api", is_resource=False), True),
    (_rule(urls=("*",)), _req(path="", is_resource=False), True),
    (_rule(urls=("*",)), _req(), False),  # N kind: resource requests never match
    (_rule(), _req(user=None, is_resource=False), True),
    (_rule(users=("alice",)), _req(user=None), False),
    (_rule(groups=("g",)), _req(user=None, groups=("g",)), False),
    (_rule(groups=("g",)), _req(groups=("h", "g")), True),
    (_rule(verbs=("*",)), _req(verb="get"), False),  # no verb wildcard
    (_rule(levels=("Metadata",)), _req(level="Metadata"), True),
]


@pytest.mark.parametrize("rule,request_,matches", SEMANTICS)
def test_fixed_semantics(rule: Any, request_: Any, matches: bool) -> None:
    matchers = [PyMatcher([rule])]
    if CMatcher is not None or not NO_EXTENSIONS:
        matchers.append(_c()([rule]))
    for m in matchers:
        assert m.first(request_) == (0 if matches else -1), type(m).__name__
        assert m.all(request_) == (1 if matches else 0), type(m).__name__


def test_empty_policy() -> None:
    c = _c()([])
    assert len(c) == 0
    assert c.first(_req()) == -1 and c.all(_req()) == 0
    assert c.first_many([_req(), _req(user=None)]) == [-1, -1]
    assert c.all_many([_req()]) == [0]


def test_lists_accepted_like_tuples() -> None:
    C = _c()
    rng = random.Random(7)
    policy = [_rand_rule(rng) for _ in range(80)]
    as_lists = [
        [list(f) if i != 4 else [[g, list(r), list(n)] for g, r, n in f] for i, f in enumerate(rule)] for rule in policy
    ]
    reqs = [_rand_request(rng) for _ in range(100)]
    py, c = PyMatcher(policy), C(as_lists)
    for req in reqs:
        as_list = list(req)
        as_list[1] = list(req[1])
        assert c.first(as_list) == c.first(req) == py.first(req)
        assert c.all(as_list) == c.all(req) == py.all(req)


def test_pickle_round_trip() -> None:
    C = _c()
    rng = random.Random(11)
    policy = [_rand_rule(rng) for _ in range(70)]
    c = C(policy)
    c2 = pickle.loads(pickle.dumps(c))
    reqs = [_rand_request(rng) for _ in range(50)]
    assert c2.all_many(reqs) == c.all_many(reqs)


def test_package_selects_extension() -> None:
    import _fastmatch

    if NO_EXTENSIONS:
        assert _fastmatch.Matcher is PyMatcher and not _fastmatch.USING_EXTENSION
    else:
        assert _fastmatch.Matcher is _c(), "the package fell back to the Python twin"
        assert _fastmatch.USING_EXTENSION
