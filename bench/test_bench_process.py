"""The whole per-batch transform (decode → match → apply level → enrich → encode)
over 1,000-event batches of the mixed corpus, side by side with the naive
baseline (json module, dicts, a Python loop over the rules), and decoding alone."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from _fastmatch import PyMatcher
from pipeline import config as config_mod
from pipeline import policy as policy_mod
from pipeline.decode import decode_record
from pipeline.process import Processor

from .conftest import c_available
from .naive import naive_process


def processor(policy_doc: dict[str, Any], impl: str) -> Processor:
    """``c``: what runs (the compiled one-pass scanner and matcher); ``c-reference``: the
    compiled matcher with the readable reference path around it; ``py``: no extension."""
    config = config_mod.loads("enrichment: {cluster_name: bench}")
    proc = Processor(policy_mod.from_mapping(policy_doc), config, compiled_pass=impl == "c")
    if impl == "py":
        proc._policy_matcher = PyMatcher(proc.policy.matcher_rules())
    return proc


IMPLS = ["c", "c-reference", "py"] if c_available() else ["py"]


@pytest.mark.parametrize("impl", IMPLS)
def test_transform(benchmark: Any, impl: str, batches: list[list[bytes]], policy_doc: dict[str, Any]) -> None:
    proc = processor(policy_doc, impl)
    cycle = itertools.cycle(batches)
    sources = [f"bench:{i}" for i in range(len(batches[0]))]
    benchmark.group = "transform 1k events"
    benchmark.name = f"transform[auditpipe-{impl}]"
    batch = benchmark(lambda: proc.process(next(cycle), sources))
    assert batch.stats.rejected == 0 and batch.stats.events_out > 0


def test_transform_naive(benchmark: Any, batches: list[list[bytes]], policy_doc: dict[str, Any]) -> None:
    cycle = itertools.cycle(batches)
    benchmark.group = "transform 1k events"
    benchmark.name = "transform[naive-json]"
    out = benchmark(lambda: naive_process(next(cycle), policy_doc, "bench"))
    assert out


def test_decode_ours(benchmark: Any, batches: list[list[bytes]]) -> None:
    batch = batches[0]

    def run() -> int:
        events: list[Any] = []
        errors: list[Any] = []
        for raw in batch:
            decode_record(raw, "b", events, errors)
        return len(events)

    benchmark.group = "decode 1k events"
    benchmark.name = "decode[msgspec-raw-fields]"
    assert benchmark(run) == len(batch)


def test_decode_json_module(benchmark: Any, batches: list[list[bytes]]) -> None:
    batch = batches[0]
    benchmark.group = "decode 1k events"
    benchmark.name = "decode[json.loads]"
    assert len(benchmark(lambda: [json.loads(b) for b in batch])) == len(batch)
