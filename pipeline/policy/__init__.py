"""Audit policies: the model, kube-apiserver's loading and validation, and the
rules in the shape the matcher takes."""

from ..model import LEVEL_RANK, LEVELS, STAGES
from .load import API_VERSION, from_mapping, load, loads, loads_as_intended, read_text
from .model import (
    CompiledRule,
    GroupResources,
    LoadedPolicy,
    Policy,
    PolicyError,
    PolicyIssue,
    PolicyRule,
    RuleFields,
    rule_to_matcher,
)
from .validate import selecting_fields, validate

__all__ = [
    "API_VERSION",
    "LEVELS",
    "LEVEL_RANK",
    "STAGES",
    "CompiledRule",
    "GroupResources",
    "LoadedPolicy",
    "Policy",
    "PolicyError",
    "PolicyIssue",
    "PolicyRule",
    "RuleFields",
    "from_mapping",
    "load",
    "loads",
    "loads_as_intended",
    "read_text",
    "rule_to_matcher",
    "selecting_fields",
    "validate",
]
