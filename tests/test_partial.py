"""CRI partial lines are joined into one record, per partition and stream, and
a source knows not to acknowledge past fragments it still holds."""

from __future__ import annotations

import json

from pipeline.decode import RecordDecoder
from pipeline.errors import Rejection
from pipeline.events import Event
from pipeline.sources.partial import Joined, PartialJoiner, TooLong

from .helpers import event, line

LINE = line(event(requestObject={"data": "x" * 40000})).decode()


def fragments(text: str, size: int, stream: str = "stdout", shape: str = "multiline") -> list[bytes]:
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    out = []
    for n, piece in enumerate(pieces):
        tag = "F" if n == len(pieces) - 1 else "P"
        if shape == "multiline":  # Fluent Bit's multiline.parser cri
            record = {
                "@timestamp": 1.5,
                "time": "2026-11-27T10:00:00.1Z",
                "stream": stream,
                "_p": tag,
                "log": piece,
                "kubernetes": {"pod_name": "kube-apiserver-0"},
            }
        else:  # the classic cri regex parser
            record = {"time": "t", "stream": stream, "logtag": tag, "message": piece}
        out.append(json.dumps(record).encode())
    return out


def test_fragments_join_into_the_original_line() -> None:
    for shape in ("multiline", "cri"):
        joiner = PartialJoiner(8 << 20)
        parts = fragments(LINE, 16384, shape=shape)
        assert len(parts) == 3
        results = [joiner.feed(0, p, f"t/0/{i}", i) for i, p in enumerate(parts)]
        assert results[:2] == [None, None]
        joined = results[2]
        assert isinstance(joined, Joined) and joined.origin == "t/0/0" and joined.offset == 0
        events: list[Event] = []
        errors: list[Rejection] = []
        RecordDecoder().decode(joined.value, joined.origin, events, errors)
        assert errors == [] and [{k: json.loads(bytes(v)) for k, v in e.fields.items()} for e in events] == [
            json.loads(LINE)
        ]


def test_ordinary_records_pass_through_and_streams_do_not_mix() -> None:
    joiner = PartialJoiner(8 << 20)
    plain = line(event())
    out = joiner.feed(0, plain, "t/0/0", 0)
    assert isinstance(out, Joined) and out.value is plain
    a = fragments(LINE, 30000, stream="stdout")
    b = fragments(LINE, 30000, stream="stderr")
    assert joiner.feed(0, a[0], "t/0/1", 1) is None
    assert joiner.feed(0, b[0], "t/0/2", 2) is None
    assert joiner.held(0) == 1 and joiner.held(1) is None
    assert isinstance(joiner.feed(0, plain, "t/0/3", 3), Joined)  # another record in between
    done_b = joiner.feed(0, b[1], "t/0/4", 4)
    assert isinstance(done_b, Joined) and done_b.origin == "t/0/2"
    assert joiner.held(0) == 1  # stdout's first fragment still held: do not acknowledge past offset 1
    done_a = joiner.feed(0, a[1], "t/0/5", 5)
    assert isinstance(done_a, Joined) and json.loads(done_a.value)["log"] == LINE
    assert joiner.held(0) is None


def test_fragments_beyond_the_limit_are_reported_not_held() -> None:
    joiner = PartialJoiner(20000)
    parts = fragments(LINE, 16384)
    assert joiner.feed(0, parts[0], "t/0/0", 0) is None
    too_long = joiner.feed(0, parts[1], "t/0/1", 1)
    assert isinstance(too_long, TooLong) and too_long.origin == "t/0/0" and too_long.size > 20000
    assert joiner.held(0) is None


def test_a_kafka_batch_holds_its_position_at_the_first_fragment_still_held() -> None:
    from collections import namedtuple

    from aiokafka import TopicPartition

    from pipeline.config import Kafka
    from pipeline.config import KafkaSource as KafkaSourceConfig
    from pipeline.sources.kafka import KafkaSource

    Record = namedtuple("Record", "offset key value headers")
    source = KafkaSource(KafkaSourceConfig(topics=["audit"]), Kafka())
    tp, other = TopicPartition("audit", 0), TopicPartition("audit", 1)
    parts = fragments(LINE, 16384)
    assert len(parts) == 3
    plain = line(event(auditID="plain"))

    first = source._batch(
        {tp: [Record(7, b"k", plain, []), Record(8, None, parts[0], []), Record(9, None, parts[1], [])]}
    )
    assert first.values == [plain] and first.origins == ["audit/0/7"]
    assert first.position == {tp: 8}  # not past the held fragments: a restart reads them again

    second = source._batch({other: [Record(3, None, plain, [])]})
    assert second.position == {other: 4}  # another partition is not held back

    third = source._batch({tp: [Record(10, None, parts[2], []), Record(11, None, plain, [])]})
    assert third.position == {tp: 12}
    assert third.origins == ["audit/0/8", "audit/0/11"]  # the joined line is known by its first fragment
    assert json.loads(json.loads(third.values[0])["log"]) == json.loads(LINE)

    # Partitions given up in a rebalance forget their fragments: the next owner joins them.
    source._batch({tp: [Record(12, None, parts[0], [])]})
    source.forget([tp])
    after = source._batch({tp: [Record(13, None, plain, [])]})
    assert after.values == [plain] and after.position == {tp: 14}


def test_plain_records_pass_without_the_joiner_until_a_fragment_is_held() -> None:
    joiner = PartialJoiner(8 << 20)
    parts = fragments(LINE, 16384)
    plain = line(event(verb="P"))  # a "P" that is no partial tag: the joiner decides
    assert joiner.passes(line(event()))
    assert not joiner.passes(parts[0]) and not joiner.passes(plain)
    assert joiner.feed("p0", plain, "t/0/0", 0) == Joined(plain, "t/0/0", 0)
    assert joiner.feed("p0", parts[0], "t/0/1", 1) is None
    assert not joiner.passes(line(event()))  # something is held: every record goes through feed
