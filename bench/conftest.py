"""Seeded data shared by the benchmarks (pipeline.generate, the generator behind `auditpipe generate`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.decode import decode_record
from pipeline.events import Event

ROOT = Path(__file__).resolve().parent.parent
BATCH = 1000


@pytest.fixture(scope="session")
def corpus() -> list[bytes]:
    from pipeline.generate import make_events

    return make_events(5 * BATCH, seed=0)


@pytest.fixture(scope="session")
def batches(corpus: list[bytes]) -> list[list[bytes]]:
    return [corpus[i : i + BATCH] for i in range(0, len(corpus), BATCH)]


@pytest.fixture(scope="session")
def requests(corpus: list[bytes]) -> list[tuple[Any, ...]]:
    events: list[Event] = []
    errors: list[Any] = []
    for i, raw in enumerate(corpus[:BATCH]):
        decode_record(raw, f"b:{i}", events, errors)
    assert not errors
    return [e.request for e in events]


@pytest.fixture(scope="session")
def policy_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((ROOT / "configs" / "policies" / "volume-cut.yaml").read_text())
    return doc


def c_available() -> bool:
    if os.environ.get("AUDITPIPE_NO_EXTENSIONS"):
        return False
    try:
        import _fastmatch._matcher_c  # noqa: F401
    except ImportError:
        return False
    return True
