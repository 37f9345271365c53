"""Matcher compile time: 1,000, 10,000 and 100,000 rules, for each policy shape of ``bench.policies``.

Compiling is ``Matcher(rules)`` on builtins (the rules generated beforehand), so this is the
matcher's own cost: for the Python twin, copying the rules; for the compiled twin, building its
indexes. Peak memory needs a fresh process per measurement: ``python -m bench.compile_scaling``
(it also covers the sizes of the issue, 20,000-100,000 rules).
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest

from _fastmatch import PyMatcher
from bench.policies import GENERATORS


def _impls() -> list[str]:
    try:
        importlib.import_module("_fastmatch._matcher_c")
    except ImportError:
        if os.environ.get("AUDITPIPE_NO_EXTENSIONS"):
            return ["py"]
        raise
    return ["c", "py"]


# "decoys" goes through the policy loader, which takes minutes for 100,000 rules: 10,000 at most.
CASES = [
    (shape, size)
    for size in (1000, 10_000, 100_000)
    for shape in ("realistic", "distinct", "same", "decoys")
    if not (shape == "decoys" and size > 10_000)
]


@pytest.mark.benchmark(group="matcher compile")
@pytest.mark.parametrize("impl", _impls())
@pytest.mark.parametrize("shape,size", CASES)
def test_compile(benchmark: Any, impl: str, shape: str, size: int) -> None:
    cls = importlib.import_module("_fastmatch._matcher_c").CMatcher if impl == "c" else PyMatcher
    rules = GENERATORS[shape](size, 0)  # not timed (nor kept: a big heap slows every collection)
    benchmark.group = f"matcher compile, {size} rules"
    benchmark.name = f"compile[{impl}-{shape}-{size}]"
    # A few rounds for the big sizes: each is a whole compile.
    matcher = benchmark.pedantic(cls, args=(rules,), rounds=3 if size >= 100_000 else 10, iterations=1)
    assert len(matcher) == size
