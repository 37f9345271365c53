"""The acknowledgement rule on its own: ordering, partial failure, shutdown."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.checkpoint import Checkpoints


def test_ordered_releases_only_a_durable_prefix() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=True)
    t1, t2, t3 = c.begin("p1"), c.begin("p2"), c.begin("p3")
    assert c.durable(t2) == []  # batch 1 is still on its way: p2 would acknowledge it too
    assert c.durable(t3) == []
    assert c.durable(t1) == ["p1", "p2", "p3"]
    assert c.in_flight == 0


def test_unordered_releases_each_batch_on_its_own() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=False)
    t1, t2 = c.begin("r1"), c.begin("r2")
    assert c.durable(t2) == ["r2"]
    assert c.in_flight == 1
    assert c.durable(t1) == ["r1"]


def test_a_failed_batch_blocks_everything_after_it() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=True)
    t1, t2, t3 = c.begin("p1"), c.begin("p2"), c.begin("p3")
    assert c.durable(t1) == ["p1"]
    assert c.failed(t2) == "p2"
    assert c.durable(t3) == []  # acknowledging p3 would acknowledge the lost p2
    assert c.blocked and c.unreleased() == ["p2", "p3"]


def test_unordered_failure_affects_only_its_request() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=False)
    t1, t2 = c.begin("r1"), c.begin("r2")
    assert c.failed(t1) == "r1"
    assert c.durable(t2) == ["r2"]
    assert not c.blocked and c.in_flight == 0


def test_batches_without_a_position_settle_but_release_nothing() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=True)
    t1, t2 = c.begin(None), c.begin("p2")
    assert c.durable(t2) == []
    assert c.durable(t1) == ["p2"]


def test_shutdown_leaves_what_is_not_durable_unreleased() -> None:
    c: Checkpoints[str] = Checkpoints(ordered=True)
    t1, _t2, t3 = c.begin("p1"), c.begin("p2"), c.begin("p3")
    c.durable(t1)
    c.durable(t3)
    assert c.unreleased() == ["p2", "p3"]  # a restart reads them again: duplicates, never loss


@settings(max_examples=200, derandomize=True)
@given(st.permutations(list(range(12))), st.sets(st.integers(0, 11), max_size=3))
def test_released_positions_are_always_a_prefix_in_order(order: list[int], failing: set[int]) -> None:
    c: Checkpoints[int] = Checkpoints(ordered=True)
    tickets = [c.begin(i) for i in range(12)]
    released: list[int] = []
    settled: set[int] = set()
    for i in order:
        if i in failing:
            c.failed(tickets[i])
        else:
            released += c.durable(tickets[i])
            settled.add(i)
        # Everything released is durable, in order, with nothing missing before it.
        assert released == list(range(len(released)))
        assert set(released) <= settled
    first_failure = min(failing, default=12)
    assert released == list(range(first_failure))
