"""The service against a real Apache Kafka broker: round trip, crash, graceful
stop, rebalance and broker restart. Each test runs `auditpipe run` as a real
process on its own topics and consumer group."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import signal
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devtools.kafka.endpoints import Endpoints

from ..helpers import event, line
from .conftest import unavailable
from .util import audit_ids, create_topics, free_port, produce, read_all, start_service, stop, unique, write_config

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    verbs: [get]
  - level: Metadata
"""
SECRETS_OUTPUT = """outputs:
  - name: secrets
    type: kafka
    topic: {topic}
    selector: {{resources: [{{group: "", resources: [secrets]}}]}}
"""


def make_events(n: int, tag: str) -> tuple[list[bytes], set[str], set[str]]:
    """Events whose fate is known by construction: get → dropped, secrets → the
    secrets output, everything else → the default output."""
    values, to_secrets, to_rest = [], set(), set()
    for i in range(n):
        aid = f"{tag}-{i}"
        if i % 4 == 0:
            ev = event(auditID=aid, verb="get", requestObject=None, responseObject=None)
        elif i % 4 == 1:
            ev = event(auditID=aid, objectRef={"resource": "secrets", "namespace": "prod", "name": f"s{i}"})
            to_secrets.add(aid)
        else:
            ev = event(auditID=aid)
            to_rest.add(aid)
        values.append(line(ev))
    return values, to_secrets, to_rest


class Setup:
    def __init__(self, tmp: Path, bootstrap: str, partitions: int = 1, extra_kafka: str = "") -> None:
        self.bootstrap = bootstrap
        self.input = unique("in")
        self.secrets = unique("secrets")
        self.rest = unique("rest")
        self.dlq = unique("dlq")
        self.group = unique("group")
        asyncio.run(create_topics(bootstrap, [self.input], partitions))
        asyncio.run(create_topics(bootstrap, [self.secrets, self.rest, self.dlq], 3))
        self.config = write_config(
            tmp,
            bootstrap,
            self.input,
            outputs=SECRETS_OUTPUT.format(topic=self.secrets),
            default_topic=self.rest,
            dead_letter=self.dlq,
            group=self.group,
            policy=POLICY,
            extra_kafka=extra_kafka,
        )
        self.log = tmp / "service.log"
        self.partitions = partitions

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        return start_service(self.config, self.log, *args)

    def start_another(self) -> subprocess.Popen[bytes]:
        """A second instance in the same group (its own metrics port)."""
        other = self.config.with_name("other-" + self.config.name)
        port = _metrics_port(self.config)
        other.write_text(self.config.read_text().replace(f"port: {port},", f"port: {free_port()},"))
        return start_service(other, self.log)

    def produce(self, values: list[bytes]) -> None:
        asyncio.run(produce(self.bootstrap, self.input, values, partitions=self.partitions))

    def read(self, topic: str, expect: int | None = None, timeout: float = 180) -> list[Any]:
        return asyncio.run(read_all(self.bootstrap, topic, expect=expect, timeout_secs=timeout))

    def wait_for(self, topic: str, count: int, timeout: float = 180) -> list[Any]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.read(topic, expect=count, timeout=10)
            if len(set(audit_ids(records))) >= count or time.monotonic() > deadline:
                return records

    def service_log(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def test_round_trip_outputs_and_dead_letters(tmp_path: Path, kafka_broker: Endpoints) -> None:
    s = Setup(tmp_path, kafka_broker.bootstrap)
    values, to_secrets, to_rest = make_events(400, "rt")
    bad = [b"{not json", line(event(auditID="wrong", verb=[1])), b'{"auditID":"\xff"}', b'"just a string"']
    s.produce(values[:200] + bad + values[200:])
    proc = s.start()
    try:
        secrets = s.wait_for(s.secrets, len(to_secrets))
        rest = s.wait_for(s.rest, len(to_rest))
        dead = s.read(s.dlq, expect=len(bad), timeout=60)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{_metrics_port(s.config)}/metrics", timeout=10).read()
        health = urllib.request.urlopen(f"http://127.0.0.1:{_metrics_port(s.config)}/healthz", timeout=10).read()
    finally:
        assert stop(proc) == 0, s.service_log()
    assert sorted(audit_ids(secrets)) == sorted(to_secrets)
    assert sorted(audit_ids(rest)) == sorted(to_rest)
    for rec in secrets + rest:
        out = json.loads(rec.value)
        assert out["level"] == "Metadata"
        assert "requestObject" not in out and "responseObject" not in out
        assert out["annotations"]["auditpipe.io/cluster"] == "test"
        assert out["annotations"]["auditpipe.io/source"].startswith(f"{s.input}/0/")
        assert rec.key == out["auditID"].encode()
    assert sorted(r.value for r in dead) == sorted(bad)
    reasons = {r.value: dict(r.headers) for r in dead}
    assert reasons[b"{not json"]["auditpipe.reason"] == b"invalid_json"
    assert reasons[bad[1]]["auditpipe.reason"] == b"wrong_type"
    assert reasons[bad[1]]["auditpipe.path"] == b"$.verb"
    assert reasons[bad[2]]["auditpipe.reason"] == b"invalid_utf8"
    assert reasons[bad[3]]["auditpipe.reason"] == b"not_an_object"
    assert reasons[b"{not json"]["auditpipe.source.topic"] == s.input.encode()
    assert reasons[b"{not json"]["auditpipe.source.offset"] == b"200"
    assert b"auditpipe_records_received_total 404.0" in metrics
    assert b"auditpipe_events_received_total 400.0" in metrics
    assert b'auditpipe_dead_letters_total{reason="invalid_json"} 1.0' in metrics
    assert health == b"ok\n"


def _metrics_port(config: Path) -> int:
    for text in config.read_text().splitlines():
        if text.startswith("metrics:"):
            return int(text.split("port:")[1].split(",")[0])
    raise AssertionError("no metrics port")


def _expect_all(s: Setup, to_secrets: set[str], to_rest: set[str]) -> tuple[Counter[str], Counter[str]]:
    secrets = Counter(audit_ids(s.wait_for(s.secrets, len(to_secrets))))
    rest = Counter(audit_ids(s.wait_for(s.rest, len(to_rest))))
    missing = (to_secrets - set(secrets)) | (to_rest - set(rest))
    assert not missing, f"{len(missing)} events lost, e.g. {sorted(missing)[:5]}\n{s.service_log()}"
    assert set(secrets) == to_secrets and set(rest) == to_rest
    return secrets, rest


def _wait_some_output(s: Setup, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if len(s.read(s.rest, timeout=5)) >= at_least:
            return
        time.sleep(0.2)
    raise AssertionError(f"no output appeared\n{s.service_log()}")


def test_kill_9_mid_stream_loses_nothing(tmp_path: Path, kafka_broker: Endpoints) -> None:
    s = Setup(tmp_path, kafka_broker.bootstrap)
    values, to_secrets, to_rest = make_events(20000, "crash")
    s.produce(values)
    proc = s.start()
    _wait_some_output(s, 500)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    proc = s.start()
    try:
        secrets, rest = _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc) == 0, s.service_log()
    duplicates = sum(c - 1 for c in (secrets + rest).values())
    print(f"kill -9: {len(to_secrets) + len(to_rest)} events expected, all delivered, {duplicates} duplicates")


def test_sigterm_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, kafka_broker: Endpoints) -> None:
    s = Setup(tmp_path, kafka_broker.bootstrap)
    values, to_secrets, to_rest = make_events(20000, "term")
    s.produce(values)
    proc = s.start()
    _wait_some_output(s, 500)
    started = time.monotonic()
    assert stop(proc, signal.SIGTERM, timeout=60) == 0, s.service_log()
    assert time.monotonic() - started < 30
    assert "Stopped. exit_code=0" in s.service_log()
    proc = s.start()
    try:
        secrets, rest = _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc) == 0, s.service_log()
    assert max((secrets + rest).values()) == 1, "duplicates after a graceful stop"


def test_rebalance_two_instances_one_stopped(tmp_path: Path, kafka_broker: Endpoints) -> None:
    s = Setup(tmp_path, kafka_broker.bootstrap, partitions=4)
    values, to_secrets, to_rest = make_events(20000, "rebal")
    first = s.start()
    second = s.start_another()
    try:
        time.sleep(3)
        s.produce(values)
        _wait_some_output(s, 500)
        assert stop(second, signal.SIGTERM) == 0, s.service_log()
        secrets, rest = _expect_all(s, to_secrets, to_rest)
    finally:
        stop(second)
        assert stop(first) == 0, s.service_log()
    duplicates = sum(c - 1 for c in (secrets + rest).values())
    print(f"rebalance: all {len(to_secrets) + len(to_rest)} delivered, {duplicates} duplicates")


def test_broker_restart_mid_stream(tmp_path: Path, kafka_broker: Endpoints) -> None:
    if kafka_broker.broker is None:
        pytest.skip("the broker comes from KAFKA_BOOTSTRAP_SERVERS: this test restarts it, so it needs devtools.kafka")
    s = Setup(tmp_path, kafka_broker.bootstrap)
    values, to_secrets, to_rest = make_events(20000, "brk")
    s.produce(values)
    proc = s.start()
    try:
        _wait_some_output(s, 500)
        kafka_broker.broker.stop()
        time.sleep(3)
        kafka_broker.broker.start()
        assert proc.poll() is None, "the service died while the broker was away:\n" + s.service_log()
        secrets, rest = _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc) == 0, s.service_log()
    duplicates = sum(c - 1 for c in (secrets + rest).values())
    print(f"broker restart: all {len(to_secrets) + len(to_rest)} delivered, {duplicates} duplicates")


def test_unreachable_broker_exits_after_deadline(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path, "127.0.0.1:1", "x", default_topic="y", dead_letter="z", group="g", policy=POLICY, extra_kafka=""
    )
    cfg.write_text(cfg.read_text().replace("startup_deadline_secs: 30", "startup_deadline_secs: 3"))
    log = tmp_path / "svc.log"
    proc = start_service(cfg, log)
    assert proc.wait(60) == 3
    text = log.read_text()
    assert "cannot reach Kafka at 127.0.0.1:1 for the producer within 3 s" in text, text


def test_workers_share_one_group(tmp_path: Path, kafka_broker: Endpoints) -> None:
    s = Setup(tmp_path, kafka_broker.bootstrap, partitions=4)
    values, to_secrets, to_rest = make_events(4000, "workers")
    s.produce(values)
    proc = s.start("--workers", "2")
    try:
        secrets, rest = _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc, signal.SIGTERM) == 0, s.service_log()
    log = s.log.read_text(errors="replace")
    pids = {line.split("pid=")[1].split()[0] for line in log.splitlines() if "msg=Starting." in line}
    assert len(pids) == 2, log  # two processes, one consumer group
    assert log.count("Stopped. exit_code=0") == 2
    assert max((secrets + rest).values()) == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_authentication(mechanism: str, tmp_path: Path, kafka_broker: Endpoints) -> None:
    sasl = kafka_broker.sasl
    if sasl is None:
        unavailable("the external broker has no SASL listener: set KAFKA_SASL_BOOTSTRAP_SERVERS")
    s = Setup(tmp_path, kafka_broker.bootstrap)
    text = s.config.read_text().replace(
        f'bootstrap_servers: "{kafka_broker.bootstrap}"', f'bootstrap_servers: "{sasl}"'
    )
    auth = (
        f"  security_protocol: SASL_PLAINTEXT\n  sasl: {{mechanism: {mechanism}, username: auditpipe, "
        "password: auditpipe-secret}\n"
    )
    s.config.write_text(text + auth)
    values, to_secrets, to_rest = make_events(40, f"sasl-{mechanism}")
    s.produce(values)
    proc = s.start()
    try:
        _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc) == 0, s.service_log()
    assert "auditpipe-secret" not in s.service_log()  # the start-up line masks it
    assert '\\"password\\":\\"***\\"' in s.service_log()

    # Wrong password: a clear failure at once (exit 2), never a retry loop or a hang.
    s.config.write_text(text + auth.replace("auditpipe-secret", "wrong"))
    proc = s.start()
    assert proc.wait(60) == 2
    assert f"Kafka authentication failed for user 'auditpipe' with mechanism {mechanism}" in s.service_log()


def test_outputs_the_broker_refuses_for_size_are_dead_lettered(tmp_path: Path, kafka_broker: Endpoints) -> None:
    """A topic whose max.message.bytes is below some events: records that fit are
    delivered, the ones that cannot go to the dead-letter topic naming their
    input record, and the service goes on (an idempotent producer cannot send
    past a batch the broker refused, so the limit is checked before sending)."""
    bootstrap = kafka_broker.bootstrap
    s = Setup(tmp_path, bootstrap)
    small_topic = unique("small")
    asyncio.run(create_topics(bootstrap, [small_topic], 1, {"max.message.bytes": "4000"}))
    s.config.write_text(s.config.read_text().replace(f"topic: {s.rest}", f"topic: {small_topic}"))
    (tmp_path / "policy.yaml").write_text(POLICY.replace("level: Metadata", "level: RequestResponse"))
    small = [line(event(auditID=f"small-{i}")) for i in range(30)]
    # Random base64 does not compress: these stay over the limit after lz4.
    noise = [base64.b64encode(random.Random(i).randbytes(9000)).decode() for i in range(3)]
    big = [line(event(auditID=f"big-{i}", requestObject={"kind": "Pod", "data": noise[i]})) for i in range(3)]
    s.produce(small[:10] + big[:1] + small[10:20] + big[1:] + small[20:])
    proc = s.start()
    try:
        out = s.wait_for(small_topic, len(small))
        dead = s.read(s.dlq, expect=len(big), timeout=60)
    finally:
        assert stop(proc) == 0, s.service_log()
    assert sorted(audit_ids(out)) == sorted(f"small-{i}" for i in range(30))
    assert sorted(json.loads(r.value)["auditID"] for r in dead) == [f"big-{i}" for i in range(3)]
    headers = dict(dead[0].headers)
    assert headers["auditpipe.reason"] == b"too_large"
    assert headers["auditpipe.source.topic"] == s.input.encode()
    assert int(headers["auditpipe.source.offset"]) in (10, 21, 22)


def test_input_topic_created_after_start_is_picked_up(tmp_path: Path, kafka_broker: Endpoints) -> None:
    """As when the service starts before Fluent Bit's first write auto-creates the topic."""
    s = Setup(tmp_path, kafka_broker.bootstrap)
    late = unique("late")
    s.config.write_text(s.config.read_text().replace(f"topics: [{s.input}]", f"topics: [{late}]"))
    s.input = late
    values, to_secrets, to_rest = make_events(40, "late")
    proc = s.start()
    try:
        time.sleep(3)
        s.produce(values)  # auto-creates the topic
        _expect_all(s, to_secrets, to_rest)
    finally:
        assert stop(proc) == 0, s.service_log()


def test_cri_partial_lines_are_joined_before_processing(tmp_path: Path, kafka_broker: Endpoints) -> None:
    """Fluent Bit without `multiline.parser cri` ships each fragment of a long
    container-log line as its own record; the source joins them back."""
    s = Setup(tmp_path, kafka_broker.bootstrap)
    whole = line(event(auditID="joined-1", requestObject={"kind": "Pod", "data": "x" * 5000}))
    pieces = [whole[i : i + 1000].decode() for i in range(0, len(whole), 1000)]
    fragments = [
        json.dumps(
            {"time": "2026-12-02T10:00:00Z", "stream": "stdout", "_p": "P" if i < len(pieces) - 1 else "F", "log": p}
        ).encode()
        for i, p in enumerate(pieces)
    ]
    s.produce([line(event(auditID="plain-1")), *fragments, line(event(auditID="plain-2"))])
    proc = s.start()
    try:
        out = s.wait_for(s.rest, 3)
        dead = s.read(s.dlq, timeout=5)
    finally:
        assert stop(proc) == 0, s.service_log()
    assert len(pieces) >= 5
    assert sorted(audit_ids(out)) == ["joined-1", "plain-1", "plain-2"]
    assert dead == []  # no fragment was taken for a broken event
    assert json.loads(next(r.value for r in out if b"joined-1" in r.value))["auditID"] == "joined-1"
