"""Differential tests of the compiled matcher on large policies, and on the corners of its tables.

Like ``test_fastmatch_diff.py`` (whose alphabets and helpers this reuses), every test holds
``CMatcher`` to the answers of ``PyMatcher``, the specification. Here the policies have
thousands of rules, so the compiled twin's sets are partly dense rows and partly sparse lists,
``all()`` masks run to thousands of bits, and fields with no "any" rules narrow the words
scanned. Requests are drawn near the policy's own rules (see :func:`near_requests`) so that
they match deep into it; each test checks that they did.
"""

from __future__ import annotations

import pickle
import random
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fastmatch import PyMatcher
from bench.policies import distinct, realistic, same
from tests.test_fastmatch_diff import _SETTINGS, USERS, _c, _rand_request, _rand_rule, requests, restrictive_rules

# ------------------------------------------------------------------ helpers


def _resource_of(rng: random.Random, pattern: str) -> tuple[str, str]:
    """A (resource, subresource) that the pattern matches, or nearly does."""
    if pattern == "*":
        return rng.choice(["pods", "x", ""]), rng.choice(["", "log"])
    if pattern.startswith("*/"):
        return rng.choice(["pods", "y"]), pattern[2:] if rng.random() < 0.8 else ""
    if pattern.endswith("/*"):
        return pattern[:-2], rng.choice(["", "status", "*"])
    if "/" in pattern and rng.random() < 0.7:
        resource, _, sub = pattern.partition("/")
        return resource, sub
    return pattern, ""


def near_requests(policy: list[Any], rng: random.Random, count: int) -> list[tuple[Any, ...]]:
    """Requests built from the values of randomly chosen rules, some fields then swapped
    for another rule's or for noise, so that requests match (or just miss) rules at any depth."""
    out = []
    for _ in range(count):
        users, groups, verbs, namespaces, resources, urls, levels = rng.choice(policy)
        other = rng.choice(policy)

        def pick(values: tuple[Any, ...], fallback: tuple[Any, ...], noise: str) -> Any:
            if rng.random() < 0.15:
                return noise
            pool = values or fallback or (noise,)
            return rng.choice(pool) if rng.random() < 0.85 else rng.choice(fallback or pool)

        user = None if rng.random() < 0.05 else pick(users, other[0], "nobody")
        req_groups = tuple(pick(groups, other[1], "nogroup") for _ in range(rng.randint(0, 3)))
        verb = pick(verbs, other[2], "noverb")
        level = pick(levels, other[6], "")
        if ((resources or namespaces) and rng.random() < 0.9) or (not urls and rng.random() < 0.6):
            namespace = pick(namespaces, other[3], "")
            entry = rng.choice(resources or other[4] or (("", ("pods",), ()),))
            group, patterns, names = entry
            resource, sub = _resource_of(rng, rng.choice(patterns or ("*",)))
            name = pick(names, (), "")
            out.append(
                (
                    user,
                    req_groups,
                    verb,
                    namespace,
                    group if rng.random() < 0.9 else "apps",
                    resource,
                    sub,
                    name,
                    "/api",
                    True,
                    level,
                )
            )
        else:
            url = pick(urls, other[5], "/nowhere")
            path = url.rstrip("*") + rng.choice(["", "", "x", "/y"]) if url.endswith("*") else url
            out.append((user, req_groups, verb, "", "", "", "", "", path, False, level))
    return out


def compare(policy: list[Any], reqs: list[Any]) -> Counter[str]:
    """Hold CMatcher to PyMatcher on every request and return what the requests exercised."""
    c = _c()(policy)
    masks = PyMatcher(policy).all_many(reqs)  # one scan per request; first() is its lowest bit
    firsts = [(m & -m).bit_length() - 1 for m in masks]
    assert c.all_many(reqs) == masks
    assert c.first_many(reqs) == firsts
    stats: Counter[str] = Counter()
    for req, mask, first in zip(reqs[:50], masks, firsts):
        assert c.first(req) == first and c.all(req) == mask, req
    for mask, first in zip(masks, firsts):
        stats["requests"] += 1
        stats["matched"] += first >= 0
        stats["first >= 1000"] += first >= 1000
        stats["mask wider than 64 bits"] += mask.bit_length() > 64
        stats["mask wider than 1000 bits"] += mask.bit_length() > 1000
        stats["1000+ rules matched"] += bin(mask).count("1") >= 1000
        stats["several rules"] += bin(mask).count("1") > 1
    assert len(c) == len(policy)
    return stats


def need(stats: Counter[str], *keys: str, min_match: float = 0.3) -> None:
    assert stats["matched"] >= min_match * stats["requests"], dict(stats)
    for key in keys:
        assert stats[key] > 0, f"no request exercised {key!r}: {dict(stats)}"


# ------------------------------------------------------------ seeded policies


@pytest.mark.parametrize("seed", [1, 2])
def test_large_random_policy(seed: int) -> None:
    """6,000 rules over the small shared alphabets: every value dense, deep first matches."""
    rng = random.Random(seed)
    policy = [_rand_rule(rng, p_empty=0.15) for _ in range(6000)]
    reqs = [_rand_request(rng) for _ in range(100)] + near_requests(policy, rng, 100)
    need(compare(policy, reqs), "first >= 1000", "mask wider than 1000 bits", "several rules")


def test_large_realistic_policy() -> None:
    """A multi-tenant policy of 8,000 rules: popular values dense, most values sparse lists.
    Its first 6,000 rules are made to name users, so that requests get past them."""
    policy = [
        rule if rule[0] or i >= 6000 else ((f"sa-{i % 900}",),) + rule[1:]
        for i, rule in enumerate(realistic(8000, seed=3))
    ]
    rng = random.Random(3)
    need(
        compare(policy, near_requests(policy, rng, 250)), "first >= 1000", "mask wider than 1000 bits", "several rules"
    )


def test_large_distinct_policy() -> None:
    """Every rule names its own values: all sets sparse, no "any" rules in most fields."""
    policy = distinct(6000)
    rng = random.Random(4)
    # A request matches only if all six fields hit the same rule: ~1 in 6 do.
    need(compare(policy, near_requests(policy, rng, 300)), "first >= 1000", "mask wider than 1000 bits", min_match=0.1)


def test_large_same_policy() -> None:
    """Every rule names the same values: masks with thousands of bits set."""
    policy = same(5000) + [((),) * 7]
    rng = random.Random(5)
    need(compare(policy, near_requests(policy, rng, 60)), "1000+ rules matched", "mask wider than 1000 bits")


def test_large_mixed_policy() -> None:
    """Distinct-value rules interleaved with alphabet rules: dense and sparse hits in one field."""
    rng = random.Random(6)
    alphabet_rules = [_rand_rule(rng, p_empty=0.15) for _ in range(3000)]
    # Each alphabet rule names a user, so that requests get past the early ones.
    alphabet_rules = [(r[0] or (rng.choice(USERS),),) + r[1:] for r in alphabet_rules]
    policy = [rule for pair in zip(alphabet_rules, distinct(3000)) for rule in pair]
    reqs = [_rand_request(rng) for _ in range(80)] + near_requests(policy, rng, 120)
    need(compare(policy, reqs), "first >= 1000", "mask wider than 1000 bits", "several rules")


def test_many_dense_hits_per_field() -> None:
    """More dense rows per field than the intersection takes directly (they are ORed first)."""
    groups = [f"g{i}" for i in range(40)]
    policy: list[Any] = []
    for i in range(5000):
        policy.append(((), (groups[i % 40],), (), (), (("", (f"r{i % 7}", "*", f"r{i % 7}/*"), ()),), (), ()))
    reqs = [
        ("u", tuple(groups[j] for j in range(k, 40, 3)), "get", "", "", f"r{k % 7}", sub, "", "/", True, "")
        for k in range(20)
        for sub in ("", "log")
    ]
    need(compare(policy, reqs), "1000+ rules matched")


@pytest.mark.parametrize("fields", range(1, 7))
def test_wide_intersection_for_each_field_count(fields: int) -> None:
    """The intersection of 1 to 6 fields over 15+ words (the vector kernel): decoys that one
    field rules out fill the first 700 rules, so first matches lie deep."""
    rng = random.Random(fields)
    alphabets = [("u1", "u2", "u3"), ("g1", "g2", "g3"), ("get", "list", "watch"), ("None", "Metadata")]
    alphabets += [("ns1", "ns2", "ns3"), ("pods", "secrets", "nodes")]

    def rule(decoy: bool) -> tuple[Any, ...]:
        chosen = [i for i in range(fields) if rng.random() < 0.6]
        poison = rng.randrange(fields) if decoy else -1
        values: list[tuple[str, ...]] = [() for _ in range(6)]
        for i in set(chosen) | ({poison} if decoy else set()):
            values[i] = ("absent",) if i == poison else tuple(rng.sample(alphabets[i], rng.randint(1, 2)))
        resources = (("", values[5], ()),) if values[5] else ()
        return (values[0], values[1], values[2], values[4], resources, (), values[3])

    policy = [rule(True) for _ in range(700)] + [rule(False) for _ in range(300)]
    for i in range(fields):  # every field restricted somewhere, so none is skipped as "any"
        values: list[Any] = [(), (), (), (), (), (), ()]
        slot = {0: 0, 1: 1, 2: 2, 3: 6, 4: 3, 5: 4}[i]
        values[slot] = (("", (alphabets[5][0],), ()),) if i == 5 else (alphabets[i][0],)
        policy.insert(rng.randrange(700, len(policy)), tuple(values))
    reqs = [
        (rng.choice(alphabets[0]), (rng.choice(alphabets[1]),), rng.choice(alphabets[2]), rng.choice(alphabets[4]), "")
        + (rng.choice(alphabets[5]), "", "", "/", True, rng.choice(alphabets[3]))
        for _ in range(300)
    ]
    need(compare(policy, reqs), "mask wider than 64 bits", "several rules", min_match=0.5)
    firsts = _c()(policy).first_many(reqs)
    assert sum(first >= 700 for first in firsts) >= len(reqs) // 4  # deep: past the decoys' words


# ------------------------------------------------------------ hypothesis

_LARGE_SETTINGS = {
    **_SETTINGS,
    "suppress_health_check": [
        *_SETTINGS["suppress_health_check"],  # type: ignore[misc]
        HealthCheck.large_base_example,
    ],
}


def test_differential_very_large_policies() -> None:
    """Drawn policies expanded to 5,000+ rules, with unique-value rules mixed in."""
    C = _c()
    stats: Counter[str] = Counter()

    @settings(max_examples=8, **_LARGE_SETTINGS)  # type: ignore[arg-type]
    @given(
        st.lists(restrictive_rules, min_size=4, max_size=20),
        st.integers(min_value=5000, max_value=6000),
        st.integers(min_value=0, max_value=2**32),
        st.floats(min_value=0.0, max_value=0.5),
        st.lists(requests, min_size=5, max_size=15),
    )
    def run(base: list[Any], size: int, seed: int, unique_share: float, reqs: list[Any]) -> None:
        # Thousands of draws: from a drawn seed, not from hypothesis's buffer.
        rnd = random.Random(seed)
        unique = distinct(size)
        policy = [unique[i] if rnd.random() < unique_share else rnd.choice(base) for i in range(size)]
        policy.append(((),) * 7)
        reqs = reqs + near_requests(policy, rnd, 15)
        py = PyMatcher(policy)
        masks = py.all_many(reqs)
        c = C(policy)
        assert c.all_many(reqs) == masks
        assert c.first_many(reqs) == [py.first(r) for r in reqs]
        stats["deep"] += sum(m & ((1 << 1000) - 1) == 0 and m != 0 for m in masks)
        stats["requests"] += len(reqs)

    run()
    assert stats["deep"] > 0, dict(stats)


# --------------------------------------------------- the tables' corners

_ALPHABETS = {"ascii": "abcdefgh", "latin-1": "éàüßøñçå", "ucs-2": "名前漢字日本語文", "ucs-4": "😀😁😂🤣😃😄😅😆"}


def _near_misses(key: str, alphabet: str) -> list[str]:
    """key itself, key with one character changed (first, middle, last), one longer and shorter."""
    out = [key, key + alphabet[0], key[:-1]]
    for i in {0, len(key) // 2, len(key) - 1}:
        if 0 <= i < len(key):
            out.append(key[:i] + ("x" if key[i] != "x" else "y") + key[i + 1 :])
            out.append(
                key[:i] + alphabet[(alphabet.index(key[i]) + 1) % len(alphabet)] + key[i + 1 :]
                if key[i] in alphabet
                else key
            )
    return out


@pytest.mark.parametrize("kind", sorted(_ALPHABETS))
def test_key_comparison_every_length(kind: str) -> None:
    """Keys of 0-40 characters in each str width, against near misses, in every kind of table."""
    alphabet = _ALPHABETS[kind]
    keys = ["".join(alphabet[(i * 3 + j) % len(alphabet)] for j in range(n)) for n in range(41) for i in range(2)]
    policy: list[Any] = []
    for k in keys:
        policy.append(((k,), (), (), (), (), (), ()))
        policy.append(((), (), (), (k,), ((k, (k, f"{k}/{k}"), (k,)),), (), ()))
        policy.append(((), (), (), (), (), ("/" + k, "/" + k + "*"), ()))
    reqs = []
    for k in keys:
        for m in _near_misses(k, alphabet):
            reqs.append((m, (), "get", "", "", "", "", "", "/", False, ""))
            reqs.append((None, (), "get", m, k, m, "", k, "/", True, ""))
            reqs.append((None, (), "get", k, m, k, m, m, "/", True, ""))
            reqs.append((None, (), "get", "", "", "", "", "", "/" + m, False, ""))
    need(compare(policy, reqs), "several rules", min_match=0.5)


_WIDTHS = {1: (0x21, 0xFF), 2: (0x100, 0xD7FF), 4: (0x10000, 0x10FFFF)}  # code points of each str kind


def _same_slot_pair(rng: random.Random, kind: int, n: int, window: str) -> tuple[str, str]:
    """Two different strs of n characters of one kind whose hashes agree in the low 32 bits (so
    they meet in one table slot and only their characters tell them apart), differing only at
    the head, middle or tail: in one character for 4-byte characters (there are enough of
    them), else in a few. Found by a birthday search (~80,000 candidates)."""
    lo, hi = _WIDTHS[kind]
    chars = [chr(rng.randrange(lo, hi)) for _ in range(n)]
    width = min(n, {1: 3, 2: 2, 4: 1}[kind])
    start = {"head": 0, "middle": (n - width) // 2, "tail": n - width}[window]
    seen: dict[int, str] = {}
    while True:
        for i in range(start, start + width):
            chars[i] = chr(rng.randrange(lo, hi))
        candidate = "".join(chars)
        other = seen.setdefault(hash(candidate) & 0xFFFFFFFF, candidate)
        if other != candidate:
            return other, candidate


def test_keys_that_share_a_slot() -> None:
    """Keys told apart only by their characters: every length class of the comparison (1-3,
    4-7, 8, 9-16, 17-24, 25+ bytes), with the difference at the head, middle or tail."""
    rng = random.Random(12)
    sizes = [(1, 3), (1, 13), (1, 33), (2, 4), (2, 12), (4, 1), (4, 3), (4, 9)]
    pairs = [
        _same_slot_pair(rng, kind, n, window)
        for kind, n in sizes
        for window in ("head", "middle", "tail")
        if n > 1 or window == "head"
    ]
    policy: list[Any] = []
    reqs = []
    for a, b in pairs:
        assert len(a) == len(b) and a != b
        policy.append(((a,), (), (), (a,), ((a, (a,), (a,)),), (), ()))
        policy.append(((), (), (), (), (), ("/" + a,), ()))
        for x, y in ((a, b), (b, a), (a, a)):
            reqs.append((x, (), "get", y, a, a, "", a, "/", True, ""))
            reqs.append((a, (), "get", a, x, y, "", a, "/", True, ""))
            reqs.append((a, (), "get", a, a, a, "", y, "/", True, ""))
            reqs.append((None, (), "get", "", "", "", "", "", "/" + y, False, ""))
    stats = compare(policy, reqs)
    assert 0 < stats["matched"] < stats["requests"], dict(stats)


class _Str(str):
    """A str subclass: compares as a str in both twins."""


def test_str_subclasses_and_values_that_are_not_str() -> None:
    rules: list[Any] = [
        ((_Str("alice"),), (), (_Str("get"),), (), (), (), ()),
        ((), (_Str("devs"), 7), (), (_Str("default"),), ((_Str(""), (_Str("pods"),), (_Str("web"),)),), (), ()),
        ((), (), (1, None), (), (), (), (2.0,)),
        ((), (), (), (), ((3, ("pods/*",), ()),), (), ()),
        ((None,), (), (), (), (), (_Str("/api*"), "/x"), ()),
        ((), (), (), (), (), ("*",), ()),
    ]
    reqs = [
        ("alice", (), "get", "", "", "", "", "", "/api/v1", False, ""),
        (_Str("alice"), (_Str("devs"),), _Str("get"), "default", "", "pods", "", _Str("web"), "/", True, ""),
        ("bob", (7,), 1, "default", _Str(""), _Str("pods"), "", "web", "/", True, 2),
        ("bob", (), True, "", 3, "pods", "log", "", "/", True, 2.0),
        ("bob", (), 1.0, "", 3.0, "pods", "", "", "/", True, b"x"),
        ("bob", (b"devs",), None, "", "", "", "", "", _Str("/x"), False, None),
    ]
    stats = compare(rules, reqs)
    assert stats["matched"] == len(reqs), dict(stats)


class _Reentrant:
    """A request value whose hash uses the matcher it is being looked up in."""

    def __init__(self) -> None:
        self.matcher: Any = None
        self.errors: list[BaseException] = []

    def __hash__(self) -> int:
        for call in (lambda: self.matcher.first(_PLAIN), lambda: self.matcher.__init__([])):
            try:
                call()
            except RuntimeError as exc:
                self.errors.append(exc)
        return 1

    def __eq__(self, other: object) -> bool:
        return False


_PLAIN = ("alice", (), "get", "", "", "", "", "", "/", False, "")


def test_reentrant_lookup_is_refused_and_harmless() -> None:
    """Keys that are not str go through a dict; a __hash__ calling back into the matcher
    gets a RuntimeError there, and the evaluation in progress goes on unharmed."""
    policy: list[Any] = [((), (), (1,), (), (), (), ()), (("alice",), (), (), (), (), (), ())]
    c = _c()(policy)
    evil = _Reentrant()
    evil.matcher = c
    req = ("alice", (), evil, "", "", "", "", "", "/", False, "")
    assert c.first(req) == PyMatcher(policy).first(req) == 1
    assert len(evil.errors) == 2 and all(isinstance(e, RuntimeError) for e in evil.errors)
    assert c.first(_PLAIN) == 1 and c.all(("x", (), 1, "", "", "", "", "", "/", False, "")) == 1


def test_compile_100k_rules() -> None:
    """100,000 rules compile (linear time; timed in bench/, not here) and answer as the twin."""
    policy = realistic(100_000, seed=9) + [((),) * 7]
    start = time.process_time()
    c = _c()(policy)
    assert len(c) == len(policy)
    assert time.process_time() - start < 60, "far from linear"  # a hang guard, not a speed check
    reqs = near_requests(policy[99_000:], random.Random(9), 8)
    py = PyMatcher(policy)
    assert c.first_many(reqs) == [py.first(r) for r in reqs]
    assert max(c.first_many(reqs)) > 64


def test_pickle_large() -> None:
    policy = realistic(3000, seed=10)
    c = _c()(policy)
    reqs = near_requests(policy, random.Random(10), 100)
    assert pickle.loads(pickle.dumps(c)).all_many(reqs) == c.all_many(reqs)
