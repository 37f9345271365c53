"""The pure parts of operating the service: reconnection backoff, folding
aiokafka's repeated log lines, merging the workers' metrics, the topic
pattern that never auto-creates, and the readiness of a Kafka source."""

from __future__ import annotations

import logging
import re

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipeline.config import Config, MetricsServer
from pipeline.kafka.outage import FoldRepeats, ReconnectBackoff
from pipeline.sources.kafka import exact_names_pattern
from pipeline.supervisor import merge_worker_metrics, worker_config
from pipeline.telemetry import Metrics


def test_reconnect_backoff_doubles_to_its_cap_per_address_and_resets_on_success() -> None:
    b = ReconnectBackoff(0.1, 1.0)
    a, other = ("kafka", 9092), ("kafka", 9093)
    assert b.wait_secs(a, 0.0) == 0.0
    waits = []
    now = 0.0
    for _ in range(6):
        b.failed(a, now)
        waits.append(round(b.wait_secs(a, now), 3))
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert b.wait_secs(other, now) == 0.0  # another broker is not held back
    assert b.wait_secs(a, now + 0.5) == 0.5  # time passing counts
    b.succeeded(a)
    assert b.wait_secs(a, now) == 0.0
    b.failed(a, now)
    assert b.wait_secs(a, now) == 0.1  # from the start again


def _record(name: str, msg: str, created: float, *args: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)
    record.created = created
    return record


def test_repeated_aiokafka_lines_fold_into_one_per_window_saying_how_many_and_how_long() -> None:
    fold = FoldRepeats("aiokafka", window_secs=60)
    passed = []
    # An outage of 200 s: two connection errors a second from the client.
    for tenth in range(0, 2000, 5):
        t = tenth / 10
        record = _record("aiokafka.client", 'Unable connect to "%s:%s": %s', t, "kafka", 9092, "refused")
        if fold.filter(record):
            passed.append(record)
    assert len(passed) == 4  # at 0 s, then one a minute: 60, 120, 180
    assert [getattr(r, "repeated", None) for r in passed] == [None, 119, 119, 119]
    assert [getattr(r, "failing_for_secs", None) for r in passed] == [None, 60.0, 120.0, 180.0]
    # Our own lines are never folded; another kind of aiokafka line has its own count.
    assert all(fold.filter(_record("auditpipe", "Delivery failed, sending again.", 10.0)) for _ in range(5))
    assert fold.filter(_record("aiokafka.consumer", "Heartbeat failed", 50.0))
    # After a quiet spell the next occurrence is a new streak, shown at once.
    fresh = _record("aiokafka.client", 'Unable connect to "%s:%s": %s', 1000.0, "kafka", 9092, "refused")
    assert fold.filter(fresh) and not hasattr(fresh, "repeated")


def test_topics_are_subscribed_by_their_exact_names_only() -> None:
    pattern = re.compile(exact_names_pattern(["audit", "audit.v1", "a+b"]))
    assert all(pattern.match(t) for t in ["audit", "audit.v1", "a+b"])
    assert not any(pattern.match(t) for t in ["audit-v1", "auditx", "xaudit", "auditav1", "aab"])


def _worker_text(records: int, lag: dict[int, int]) -> str:
    registry = CollectorRegistry()
    Counter("auditpipe_records_received", "Records read", registry=registry).inc(records)
    gauge = Gauge("auditpipe_consumer_lag", "lag", ["topic", "partition"], registry=registry)
    for partition, behind in lag.items():
        gauge.labels("audit", str(partition)).set(behind)
    return generate_latest(registry).decode()


def test_worker_metrics_merge_into_one_exposition_with_a_worker_label() -> None:
    merged = merge_worker_metrics([_worker_text(10, {0: 5}), None, _worker_text(7, {1: 3, 2: 0})]).decode()
    families = {f.name: f for f in text_string_to_metric_families(merged)}
    received = {
        s.labels["worker"]: s.value for s in families["auditpipe_records_received"].samples if s.name.endswith("_total")
    }
    assert received == {"0": 10.0, "2": 7.0}  # worker 1 did not answer: left out, not zero
    lag = {(s.labels["worker"], s.labels["partition"]): s.value for s in families["auditpipe_consumer_lag"].samples}
    assert lag == {("0", "0"): 5.0, ("2", "1"): 3.0, ("2", "2"): 0.0}
    assert merged.count("# TYPE auditpipe_consumer_lag gauge") == 1


def test_merging_the_real_service_metrics_keeps_every_family() -> None:
    text = generate_latest(Metrics().registry).decode()
    merged = merge_worker_metrics([text, text]).decode()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == {f.name for f in text_string_to_metric_families(merged)}
    assert "auditpipe_build_info{matcher=" in merged and 'worker="1"' in merged


def test_each_worker_serves_its_metrics_on_its_own_loopback_port() -> None:
    config = Config(metrics=MetricsServer(host="0.0.0.0", port=9464))
    ports = [(worker_config(config, i).metrics.host, worker_config(config, i).metrics.port) for i in range(3)]
    assert ports == [("127.0.0.1", 9465), ("127.0.0.1", 9466), ("127.0.0.1", 9467)]
    assert config.metrics.port == 9464  # the supervisor keeps the configured one
