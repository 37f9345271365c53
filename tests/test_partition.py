"""Kafka's key partitioning in C against aiokafka's own (the specification): the same
partition for every key, so per-key order and placement are what ``send()`` gives."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

import _fastmatch

pytestmark = pytest.mark.skipif(
    _fastmatch.partition_index is None,
    reason="the compiled partitioner is disabled (AUDITPIPE_NO_EXTENSIONS): the compiled tier runs this",
)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=80), st.integers(1, 200))
def test_same_partition_as_aiokafka(key: bytes, count: int) -> None:
    from _fastmatch._partition import murmur2 as compiled_murmur2

    assert _fastmatch.partition_index is not None
    partitions = list(range(count))
    assert compiled_murmur2(key) == murmur2(key)
    assert _fastmatch.partition_index(key, count) == DefaultPartitioner()(key, partitions, partitions)


def test_known_values() -> None:
    """Values of the Java client's Utils.murmur2 (Kafka's own unit test of it): a check that
    does not lean on the Python twin alone."""
    from _fastmatch._partition import murmur2 as compiled_murmur2

    java = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for key, signed in java.items():
        assert compiled_murmur2(key) == signed & 0xFFFFFFFF, key
