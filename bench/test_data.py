"""The benchmark rules (bench.data.make_rules): well formed, seeded, and the worst case they claim to be.

These lived in the unit tests until the tests stopped importing bench/; they run
with the rest of bench/ (``make bench-quick``, and the first step of ``make test``).
"""

from __future__ import annotations

from typing import Any

from bench.data import make_rules
from pipeline.generate import make_events

LEVELS = {"None", "Metadata", "Request", "RequestResponse"}
STAGES = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}


def test_make_rules_shape() -> None:
    rules = make_rules(300, 11)
    assert rules == make_rules(300, 11)
    assert rules != make_rules(300, 12)
    assert len(rules) == 300 and rules[-1] == {"level": "Metadata"}
    assert make_rules(1, 0) == [{"level": "Metadata"}]
    allowed = ("level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages")
    for rule in rules:
        assert list(rule) == sorted(rule, key=allowed.index)
        assert rule["level"] in LEVELS
        assert not (rule.get("nonResourceURLs") and (rule.get("resources") or rule.get("namespaces")))
        for url in rule.get("nonResourceURLs", ()):
            assert url.startswith("/") and "*" not in url[:-1]
        for entry in rule.get("resources", ()):
            assert set(entry) <= {"group", "resources", "resourceNames"}
            assert not entry.get("resourceNames") or entry.get("resources")
        assert set(rule.get("omitStages", ())) <= STAGES


def test_make_rules_is_the_worst_case_for_a_linear_scan() -> None:
    from _fastmatch import PyMatcher
    from pipeline.decode import decode_record
    from pipeline.policy import from_mapping

    n = 120
    rules = make_rules(n, 3)
    matcher = PyMatcher(
        from_mapping({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": rules}).matcher_rules()
    )
    live_from = (n - 1) - (n - 1) // 10
    decoded: list[Any] = []
    errors: list[Any] = []
    for line in make_events(3_000, seed=0):
        decode_record(line, "generated", decoded, errors)
    assert not errors and len(decoded) == 3_000
    for event in decoded:
        first = matcher.first(event.request)
        assert first >= live_from, (rules[first], event.request)
