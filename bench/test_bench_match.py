"""Policy evaluation per batch of 1,000 requests: 10, 100 and 1,000 rules, each twin.

Divide the mean by 1,000 for the time per event.
"""

from __future__ import annotations

from typing import Any

import pytest

from _fastmatch import PyMatcher
from pipeline import policy as policy_mod

from .conftest import c_available


def matcher_rules(n: int) -> list[Any]:
    from bench.data import make_rules

    loaded = policy_mod.from_mapping({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": make_rules(n, 7)})
    return loaded.matcher_rules()


IMPLS = ["c", "py"] if c_available() else ["py"]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("rules", [10, 100, 1000])
def test_match_batch(benchmark: Any, impl: str, rules: int, requests: list[Any]) -> None:
    if impl == "c":
        from _fastmatch._matcher_c import CMatcher as cls
    else:
        cls = PyMatcher
    matcher = cls(matcher_rules(rules))
    benchmark.group = f"match 1k requests, {rules} rules"
    benchmark.name = f"match[{impl}-{rules}]"
    result = benchmark(matcher.first_many, requests)
    assert len(result) == len(requests)
    assert any(r >= 0 for r in result)
