"""The Grafana dashboard (deploy/grafana/auditpipe.json) queries only metrics the
service exposes: every metric name in its PromQL must be a sample name of the
service's registry (pipeline.telemetry.Metrics), or be declared below as pending,
with who adds it. When a pending metric lands, this test says to drop it from the list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.registry import CollectorRegistry

from pipeline.telemetry import Metrics

from .conftest import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "auditpipe.json"

# Queried by the dashboard, not in the registry on this branch yet.
PENDING: dict[str, str] = {}

# Sample names each metric type exposes, from its family name.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}
_METRIC = re.compile(r"\b((?:auditpipe|process)_[a-z0-9_]+)\b")


def exposed(registry: CollectorRegistry) -> set[str]:
    """Every sample name the registry can expose (labelled metrics with no child yet included)."""
    return {family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries() -> Iterator[str]:
    """Every PromQL text in the dashboard: panel targets and templating queries."""
    board = dashboard()
    for panel in panels(board["panels"]):
        for target in panel.get("targets", []):
            yield target["expr"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            yield variable["definition"]


def queried() -> set[str]:
    return {name for query in queries() for name in _METRIC.findall(query)}


def test_every_queried_metric_exists_or_is_pending() -> None:
    names = queried()
    present = exposed(Metrics().registry)
    missing = names - present
    undeclared = sorted(missing - set(PENDING))
    landed = sorted(set(PENDING) - missing)
    assert not undeclared, f"the dashboard queries metrics the service does not expose: {undeclared}"
    assert not landed, f"now exposed by the service (or no longer queried): drop them from PENDING: {landed}"


def test_pending_names_are_what_the_metric_types_would_expose() -> None:
    """A pending name is spelled as prometheus_client would expose it, so adding the
    metric with that family name and type makes it present."""
    registry = CollectorRegistry()
    from prometheus_client import Counter, Gauge, Histogram

    Gauge("auditpipe_build_info", "x", ["version"], registry=registry)
    Counter("auditpipe_delivery_retries", "x", ["output"], registry=registry)
    Counter("auditpipe_webhook_requests", "x", ["code"], registry=registry)
    Histogram("auditpipe_webhook_response_seconds", "x", registry=registry)
    from prometheus_client import ProcessCollector

    ProcessCollector(registry=registry, proc="/proc")
    names = exposed(registry)
    assert set(PENDING) <= names, sorted(set(PENDING) - names)


def test_the_extraction_sees_every_panels_metric() -> None:
    """The name extraction is not vacuous: it finds the metrics the brief lists."""
    core = {
        "auditpipe_records_received_total",
        "auditpipe_events_received_total",
        "auditpipe_events_delivered_total",
        "auditpipe_events_dropped_total",
        "auditpipe_dead_letters_total",
        "auditpipe_batch_processing_seconds_bucket",
        "auditpipe_batch_delivery_seconds_bucket",
        "auditpipe_consumer_lag",
    }
    assert core <= queried()


def test_panels_are_well_formed() -> None:
    board = dashboard()
    all_panels = list(panels(board["panels"]))
    ids = [p["id"] for p in all_panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: set[tuple[int, int]] = set()
    for panel in all_panels:
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        assert not mine & cells, f"panel {panel['title']!r} overlaps another"
        cells |= mine
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}"
            expr = target["expr"]
            assert 'job=~"$job",instance=~"$instance"' in expr, f"{panel['title']}: not filtered by job and instance"
            for window in re.findall(r"\[([^\]]+)\]", expr):
                assert window in ("$__rate_interval", "1h"), f"{panel['title']}: window {window}"
    assert {v["name"] for v in board["templating"]["list"]} == {"datasource", "job", "instance"}


@pytest.mark.parametrize(
    "title",
    [
        "In: records and events",
        "Out: events delivered per output",
        "Dropped per rule",
        "Dead letters per reason",
        "Consumer lag per topic",
        "Batch processing time",
        "Batch delivery time",
        "Delivery retries per output",
    ],
)
def test_the_panels_the_dashboard_promises(title: str) -> None:
    titles = {p["title"] for p in panels(dashboard()["panels"])}
    assert title in titles
