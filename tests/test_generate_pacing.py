"""Pacing and output shapes of ``auditpipe generate``, as pure functions with a fake clock.

No test here measures real time: the rate schedule and the paced write loop take
their clock and sleep as arguments, and a fake clock advances only when the code
under test sleeps (or when a test says an event took time to make).
"""

from __future__ import annotations

import io
import json

import pytest

from pipeline.decode import decode_record
from pipeline.errors import Rejection
from pipeline.events import Event
from pipeline.generate import make_events
from pipeline.generate.file_output import BATCH_MAX_WAIT_S, MAX_SLEEP_S, write_records
from pipeline.generate.framing import EVENT_PREFIX, EventListBatcher, Framer, audit_id, fluent_bit_envelope
from pipeline.generate.pacing import RateSchedule
from pipeline.generate.progress import Progress, StopRequest


class FakeClock:
    """A monotonic clock that moves only when told to (or slept on)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def release_times(schedule: RateSchedule, clock: FakeClock, events: int, cost: float = 0.0) -> list[float]:
    """When each of ``events`` goes out, for a producer that takes ``cost`` seconds per event."""
    times = []
    for _ in range(events):
        while (wait := schedule.delay(clock())) > 0:
            clock.sleep(wait)
        times.append(clock())
        clock.now += cost
    return times


# ---- the schedule ----


@pytest.mark.parametrize("rate", [1_000.0, 333.3, 7.0, 0.5])
def test_event_k_is_released_at_start_plus_k_over_rate(rate: float) -> None:
    clock = FakeClock()
    times = release_times(RateSchedule(rate), clock, 2_000, cost=0.1 / rate)
    for k, at in enumerate(times):
        assert at == pytest.approx(1_000.0 + k / rate, abs=1e-9)


def test_no_drift_over_a_long_run() -> None:
    # Due times come from the count, not from adding 1/rate each time: 1/3 is not exact in binary, and
    # 300,000 additions at a clock reading near 10^6 s would drift by tens of microseconds.
    clock = FakeClock(start=1_000_000.0)
    schedule = RateSchedule(3)
    times = release_times(schedule, clock, 300_000, cost=0.01)
    assert times[-1] == pytest.approx(1_000_000.0 + 299_999 / 3, abs=1e-6)
    assert schedule.released == 300_000


def test_a_slow_producer_never_waits() -> None:
    clock = FakeClock()
    times = release_times(RateSchedule(1_000), clock, 500, cost=0.002)  # can only make 500/s
    assert clock.sleeps == []
    assert times[-1] - times[0] == pytest.approx(499 * 0.002)


def test_a_short_stall_is_caught_up_and_the_grid_kept() -> None:
    clock = FakeClock(start=0.0)
    schedule = RateSchedule(100, max_lag=1.0)
    release_times(schedule, clock, 10)  # events 0-9 at 0.00 .. 0.09
    clock.now = 0.5  # stalled: events 10-50 are due by now, the oldest 0.4 s ago
    burst = 0
    while schedule.delay(clock()) == 0:
        burst += 1
    assert burst == 41  # events 10..50 go at once
    times = release_times(schedule, clock, 3)
    assert times == pytest.approx([0.51, 0.52, 0.53])  # then back on the original grid


def test_a_long_stall_restarts_the_schedule_instead_of_bursting() -> None:
    clock = FakeClock(start=0.0)
    schedule = RateSchedule(100, max_lag=1.0)
    release_times(schedule, clock, 10)
    clock.now = 5.0  # 4.9 s behind: catching up would mean a burst of 490 events
    assert schedule.delay(clock()) == 0.0  # the event in hand goes
    times = release_times(schedule, clock, 3)
    assert times == pytest.approx([5.01, 5.02, 5.03])  # the next ones are paced from now


def test_rate_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            RateSchedule(bad)


# ---- the paced write loop ----


def test_paced_loop_writes_on_schedule_and_flushes_before_each_wait() -> None:
    clock = FakeClock(start=0.0)
    flushes: list[float] = []

    class Out(io.BytesIO):
        def flush(self) -> None:
            flushes.append(clock())

    out = Out()
    lines = make_events(20, seed=2)
    write_records(
        iter(lines), out, Framer("raw"), RateSchedule(4), Progress(), StopRequest(), clock=clock, sleep=clock.sleep
    )
    assert out.getvalue() == b"".join(line + b"\n" for line in lines)
    assert clock.now == pytest.approx(19 / 4)  # the 20th event went at 4.75 s
    assert max(clock.sleeps) <= MAX_SLEEP_S  # waits are sliced, so Ctrl-C is seen at once
    assert len(flushes) >= 19  # every event waited for was preceded by a flush


def test_paced_eventlists_go_out_once_their_oldest_event_has_waited() -> None:
    clock = FakeClock(start=0.0)
    out = io.BytesIO()
    lines = make_events(40, seed=2)
    write_records(
        iter(lines),
        out,
        Framer("eventlist", batch=400),
        RateSchedule(10),
        Progress(),
        StopRequest(),
        clock=clock,
        sleep=clock.sleep,
    )
    lists = [json.loads(record) for record in out.getvalue().splitlines()]
    sizes = [len(lst["items"]) for lst in lists]
    # At 10 events/s a list holds the events of BATCH_MAX_WAIT_S (plus the one due at its end), not 400.
    assert sizes == [11, 11, 11, 7]
    assert BATCH_MAX_WAIT_S == 1.0
    assert [item["auditID"] for lst in lists for item in lst["items"]] == [
        json.loads(line)["auditID"] for line in lines
    ]


def test_stop_during_a_wait_ends_with_complete_records() -> None:
    clock = FakeClock(start=0.0)
    stop = StopRequest()
    progress = Progress()

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now >= 2.0:
            stop.request()  # Ctrl-C at 2 s

    out = io.BytesIO()
    lines = make_events(100, seed=2)
    write_records(
        iter(lines), out, Framer("eventlist", batch=400), RateSchedule(5), progress, stop, clock=clock, sleep=sleep
    )
    items = [item for record in out.getvalue().splitlines() for item in json.loads(record)["items"]]
    assert len(items) == progress.events == 10  # events due at 0.0 .. 1.8 s; the one due at 2.0 never was
    assert out.getvalue().endswith(b"\n")


# ---- output shapes ----


def test_audit_id_is_the_event_field() -> None:
    for line in make_events(300, seed=4):
        assert audit_id(line).decode() == json.loads(line)["auditID"]


def test_fluent_bit_envelope_escapes_like_fluent_bit() -> None:
    line = (
        EVENT_PREFIX + b'"level":"Metadata","auditID":"a","requestURI":"/api?x=1\\u0026y=2",'
        b'"annotations":{"apiserver.latency.k8s.io/etcd":"561.927\xc2\xb5s"},'
        b'"stageTimestamp":"2023-05-17T15:08:30.619910Z"}'
    )
    envelope = fluent_bit_envelope(line)
    # %.16g drops the trailing zero; the line's own \u0026 is escaped once more; µ becomes \u00b5; / stays.
    assert envelope == (
        b'{"@timestamp":1684336110.61991,"log":"{\\"kind\\":\\"Event\\",\\"apiVersion\\":'
        b'\\"audit.k8s.io/v1\\",\\"level\\":\\"Metadata\\",\\"auditID\\":\\"a\\",\\"requestURI\\":'
        b'\\"/api?x=1\\\\u0026y=2\\",\\"annotations\\":{\\"apiserver.latency.k8s.io/etcd\\":'
        b'\\"561.927\\u00b5s\\"},\\"stageTimestamp\\":\\"2023-05-17T15:08:30.619910Z\\"}"}'
    )
    assert envelope.isascii()


def test_fluent_bit_prints_whole_seconds_with_a_point() -> None:
    line = EVENT_PREFIX + b'"auditID":"a","stageTimestamp":"2026-11-27T10:00:00.000000Z"}'
    assert fluent_bit_envelope(line).startswith(b'{"@timestamp":1795773600.0,"log":')


def test_every_shape_decodes_to_the_same_events() -> None:
    lines = make_events(500, seed=8)
    want = [json.loads(line) for line in lines]
    for shape in ("raw", "fluent-bit", "eventlist"):
        framer = Framer(shape, batch=64)
        records = [value for line in lines for value, _ in framer.add(line)] + [v for v, _ in framer.flush()]
        events: list[Event] = []
        errors: list[Rejection] = []
        for i, record in enumerate(records):
            decode_record(record, f"{shape}:{i}", events, errors)
        assert not errors, (shape, errors[:1])
        got = [{key: json.loads(bytes(raw)) for key, raw in event.fields.items()} for event in events]
        # Webhook items carry no kind/apiVersion; the decoder gives them back (from the list's apiVersion).
        assert got == want, shape


def test_eventlists_respect_both_limits_and_keep_every_event() -> None:
    lines = make_events(2_000, seed=0)
    biggest = max(len(line) for line in lines)
    limit = biggest + 20_000
    batcher = EventListBatcher(max_events=150, max_bytes=limit)
    records = [record for line in lines for record in batcher.add(line)] + list(batcher.flush())
    assert all(len(value) <= limit for value, _ in records)
    assert all(0 < events <= 150 for _, events in records)
    items = [item for value, _ in records for item in json.loads(value)["items"]]
    assert len(items) == sum(events for _, events in records) == 2_000
    assert [item["auditID"] for item in items] == [json.loads(line)["auditID"] for line in lines]
    assert any(events < 150 for _, events in records[:-1]), "some lists were cut by size"


def test_an_event_over_the_byte_limit_makes_a_list_of_its_own() -> None:
    lines = make_events(300, seed=0)
    big = max(lines, key=len)
    small = [line for line in lines if len(line) < 2_000][:3]
    batcher = EventListBatcher(max_events=400, max_bytes=len(big) // 2)
    records = [r for line in (small[0], small[1], big, small[2]) for r in batcher.add(line)] + list(batcher.flush())
    assert [events for _, events in records] == [2, 1, 1]
    assert len(records[1][0]) > len(big) // 2  # too big for the limit: the caller is told by its size


def test_only_generated_event_lines_are_framed() -> None:
    with pytest.raises(ValueError):
        EventListBatcher(max_events=10).add(b'{"level":"Metadata"}')
