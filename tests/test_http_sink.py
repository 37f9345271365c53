"""The HTTP output against the Falco-rule receiver over real HTTP(S): what it
sends is accepted and nothing is dropped silently; what Falco would drop is
dead-lettered with a reason; 5xx and connection errors are retried until they
succeed; 4xx answers dead-letter the body's events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest

from devtools.net import free_port
from pipeline.config import HttpOutput, HttpTls
from pipeline.errors import ReasonCode
from pipeline.process import OutRecord
from pipeline.sinks.base import DeadLetter
from pipeline.sinks.http import HttpSink

from .falco_receiver import FalcoReceiver
from .helpers import event, line

pytestmark = pytest.mark.timeout(120)


def records(n: int, tag: str = "e", **overrides: Any) -> list[OutRecord]:
    return [OutRecord(f"{tag}{i}".encode(), line(event(auditID=f"{tag}{i}", **overrides)), i) for i in range(n)]


def output(url: str, **options: Any) -> HttpOutput:
    defaults: dict[str, Any] = {"retry_backoff_initial_secs": 0.05, "retry_backoff_max_secs": 0.2}
    return msgspec.convert({"name": "falco", "url": url, **defaults, **options}, HttpOutput)


class Counting:
    def __init__(self) -> None:
        self.outcomes: list[str] = []

    def http_request(self, output: str, outcome: str) -> None:
        self.outcomes.append(outcome)


def deliver(
    config: HttpOutput,
    recs: list[OutRecord],
    during: Callable[[HttpSink], Awaitable[None]] | None = None,
    observer: Counting | None = None,
) -> list[DeadLetter]:
    async def main() -> list[DeadLetter]:
        sink = HttpSink(config, observer)
        await sink.start()
        try:
            delivery = asyncio.ensure_future(await sink.send(recs, [f"test:{r.index}" for r in recs]))
            if during is not None:
                await during(sink)
            return await delivery
        finally:
            await sink.close()

    return asyncio.run(main())


def ids(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["auditID"] for e in events)


def test_everything_sent_is_accepted_in_bodies_within_the_limit() -> None:
    recs = records(60)
    limit = 6000  # a few events per body
    with FalcoReceiver(max_batch_size=limit) as falco:
        config = output(falco.url, max_batch_bytes=limit, headers={"X-Cluster-Name": "prod-eu-1"})
        assert deliver(config, recs) == []
    assert ids(falco.accepted_events()) == sorted(r.key.decode() for r in recs)
    assert falco.dropped == []
    assert len(falco.requests) > 60 * len(recs[0].value) // limit  # split into many bodies
    assert all(r.status == 200 and r.body_bytes <= limit for r in falco.requests)
    assert all(r.content_type == "application/json" for r in falco.requests)
    assert all(r.headers.get("X-Cluster-Name") == "prod-eu-1" for r in falco.requests)
    assert [json.loads(a) for a in falco.accepted] == [json.loads(r.value) for r in recs]  # unchanged, in order


def test_events_falco_would_drop_are_dead_lettered_with_a_reason() -> None:
    good = records(5, "ok")
    no_stamp = records(2, "nostamp", stageTimestamp=None)
    bad_stamp = records(1, "badstamp", stageTimestamp="2018-10-25 13:58:49")
    big = records(1, "big", requestObject={"data": "x" * 300_000})
    recs = [*good, *no_stamp, *bad_stamp, *big]
    recs = [OutRecord(r.key, r.value, i) for i, r in enumerate(recs)]
    with FalcoReceiver() as falco:
        letters = deliver(output(falco.url), recs)
    assert ids(falco.accepted_events()) == sorted(r.key.decode() for r in good)
    assert falco.dropped == []  # nothing was sent that Falco drops
    by_key = {d.key: d.rejection for d in letters}
    assert sorted(by_key) == sorted(r.key for r in [*no_stamp, *bad_stamp, *big])
    assert by_key[b"nostamp0"].code == ReasonCode.MISSING_FIELD
    assert by_key[b"nostamp0"].path == "$.stageTimestamp"
    assert by_key[b"badstamp0"].code == ReasonCode.INVALID_VALUE
    assert by_key[b"big0"].code == ReasonCode.TOO_LARGE
    for r in recs[len(good) :]:
        assert by_key[r.key].raw == r.value and by_key[r.key].source == f"test:{r.index}"


def test_the_same_events_sent_unchecked_are_dropped_by_falco() -> None:
    """The receiver really applies the rules the sink checks: switched off, Falco drops them silently."""
    recs = records(2, "nostamp", stageTimestamp=None)
    with FalcoReceiver() as falco:
        assert deliver(output(falco.url, require_stage_timestamp=False), recs) == []
    assert falco.accepted == [] and len(falco.dropped) == 2
    assert falco.statuses() == [200]


def test_5xx_answers_are_retried_until_accepted() -> None:
    recs = records(10)
    seen_unhealthy: list[str] = []

    async def watch(sink: HttpSink) -> None:
        while sink.health().ready:
            await asyncio.sleep(0.01)
        seen_unhealthy.append(sink.health().reason)

    counting = Counting()
    with FalcoReceiver(script=[503, 500, 502, 429, 408]) as falco:
        assert deliver(output(falco.url), recs, watch, counting) == []
    assert falco.statuses() == [503, 500, 502, 429, 408, 200]
    assert ids(falco.accepted_events()) == sorted(r.key.decode() for r in recs)
    assert "HTTP 503" in seen_unhealthy[0]
    assert counting.outcomes == ["5xx", "5xx", "5xx", "4xx", "4xx", "2xx"]


def test_connection_errors_are_retried_until_the_receiver_is_up() -> None:
    port = free_port()
    recs = records(3)
    falco = FalcoReceiver(port=port)

    async def start_receiver_once_failing(sink: HttpSink) -> None:
        while sink.health().ready:
            await asyncio.sleep(0.01)
        assert "retrying" in sink.health().reason
        await asyncio.to_thread(falco.__enter__)

    try:
        assert deliver(output(falco.url), recs, start_receiver_once_failing) == []
    finally:
        falco.__exit__()
    assert ids(falco.accepted_events()) == sorted(r.key.decode() for r in recs)


@pytest.mark.parametrize("status", [400, 404, 413, 302])
def test_other_answers_dead_letter_the_body(status: int) -> None:
    recs = records(4)
    with FalcoReceiver(script=[status]) as falco:
        letters = deliver(output(falco.url), recs)
    assert falco.statuses() == [status]  # not retried
    assert sorted(d.key for d in letters) == sorted(r.key for r in recs)
    for letter in letters:
        assert letter.rejection.code == ReasonCode.REFUSED
        assert f"answered {status}" in letter.rejection.message


def test_https_with_the_receivers_ca(tls_files: Any) -> None:
    recs = records(3)
    with FalcoReceiver(ssl_context=tls_files.server_context()) as falco:
        assert falco.url.startswith("https://")
        assert deliver(output(falco.url, tls=HttpTls(ca_file=str(tls_files.ca))), recs) == []
    assert len(falco.accepted) == 3


def test_https_with_an_untrusted_certificate_keeps_retrying_and_says_why(tls_files: Any) -> None:
    reasons: list[str] = []

    async def wait_for_failure(sink: HttpSink) -> None:
        while sink.health().ready:
            await asyncio.sleep(0.01)
        reasons.append(sink.health().reason)
        raise asyncio.CancelledError  # stop the test here: the delivery would retry forever

    with FalcoReceiver(ssl_context=tls_files.server_context()) as falco:
        config = output(falco.url, tls=HttpTls(ca_file=str(tls_files.wrong_ca)))
        with pytest.raises(asyncio.CancelledError):
            deliver(config, records(1), wait_for_failure)
    assert falco.requests == []
    assert "certificate" in reasons[0].lower()
