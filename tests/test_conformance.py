"""kube-apiserver's own test vectors (tests/data/conformance/k8s-policy-cases.json),
run against both matcher twins and the policy loader."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from pipeline import policy as policy_mod

from .conftest import DATA

CASES: dict[str, Any] = json.loads((DATA / "conformance" / "k8s-policy-cases.json").read_text())


def as_request(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["user"],
        tuple(r["groups"] or ()),
        r["verb"],
        r["namespace"],
        r["apiGroup"],
        r["resource"],
        r["subresource"],
        r["name"],
        r["path"],
        r["resourceRequest"],
        "",
    )


def test_case_counts() -> None:
    assert len(CASES["policy_cases"]) == 126
    assert len(CASES["validation_cases"]) == 22
    assert len(CASES["loader_cases"]) == 5


@pytest.mark.parametrize("case", CASES["policy_cases"], ids=lambda c: c["name"])
def test_policy_case(case: dict[str, Any], matcher_cls: type) -> None:
    # Some checker cases use policies validation would refuse (mixed rules):
    # evaluate them as the checker does, without validating.
    policy = msgspec.convert(case["policy"], policy_mod.Policy)
    loaded = policy_mod.LoadedPolicy(policy)
    matcher = matcher_cls(loaded.matcher_rules())
    index = matcher.first(as_request(case["request"]))
    if index == -1:
        level, stages, omf = "None", loaded.default_omit_stages, policy.omitManagedFields
    else:
        rule = loaded.compiled_rules()[index]
        level, stages, omf = rule.level, rule.omit_stages, rule.omit_managed_fields
    assert level == case["expected_level"]
    assert set(stages) == set(case["expected_omit_stages"])
    if "expected_omit_managed_fields" in case:
        assert omf == case["expected_omit_managed_fields"]


@pytest.mark.parametrize("case", CASES["validation_cases"], ids=lambda c: c["name"])
def test_validation_case(case: dict[str, Any]) -> None:
    policy = msgspec.convert(case["policy"], policy_mod.Policy)
    errors = policy_mod.validate(policy)
    if case["valid"]:
        assert errors == []
        if case.get("loader_accepts", True):
            policy_mod.from_mapping(case["policy"])
        else:
            with pytest.raises(policy_mod.PolicyError, match="loaded illegal policy with 0 rules"):
                policy_mod.from_mapping(case["policy"])
    else:
        assert errors == [e["message"] for e in case["expected_errors"]]
        for fragment in case["error_contains"]:
            assert any(fragment in e for e in errors), fragment
        with pytest.raises(policy_mod.PolicyError) as info:
            policy_mod.from_mapping(case["policy"])
        assert [i.message for i in info.value.issues] == errors


def _compact(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _compact(v) for k, v in obj.items() if v not in ("", [], None, {})}
    if isinstance(obj, list):
        return [_compact(v) for v in obj]
    return obj


@pytest.mark.parametrize("case", CASES["loader_cases"], ids=lambda c: c["name"])
def test_loader_case(case: dict[str, Any]) -> None:
    # kube-apiserver loads leniently (unknown fields dropped): lenient=True is its behaviour.
    if case["ok"]:
        loaded = policy_mod.loads(case["yaml"], lenient=True)
        rules = _compact(msgspec.to_builtins(loaded.policy))["rules"]
        expected = _compact(case["expected_policy"]["rules"])
        # An empty GroupResources `{}` (the core group, all resources) compacts to {}.
        assert rules == [_compact(r) for r in expected]
    else:
        with pytest.raises(policy_mod.PolicyError) as info:
            policy_mod.loads(case["yaml"], lenient=True)
        for fragment in case["error_contains"]:
            assert fragment in str(info.value)


@pytest.mark.parametrize("case", CASES["union_stages_cases"], ids=lambda c: f"{c['a']}+{c['b']}")
def test_union_stages(case: dict[str, Any]) -> None:
    policy = policy_mod.Policy(
        apiVersion=policy_mod.API_VERSION,
        omitStages=case["a"] or [],
        rules=[policy_mod.PolicyRule(level="Metadata", omitStages=case["b"] or [])],
    )
    rule = policy_mod.LoadedPolicy(policy).compiled_rules()[0]
    assert rule.omit_stages == frozenset(case["expected"])
