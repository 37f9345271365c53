"""Prometheus metrics with fixed names and bounded labels, and the HTTP
endpoints ``/metrics``, ``/healthz`` (the process is alive) and ``/readyz``
(it can read and deliver now).

Counters are updated once per batch or delivery, never per event.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Callable, Sequence

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from _fastmatch import USING_EXTENSION

from . import __version__
from .errors import StartupError
from .levels import NO_RULE as REASON_NO_RULE
from .process import Stats
from .sinks.base import DeadLetter
from .sources.base import Health

log = logging.getLogger("auditpipe")

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_BODY_BUCKETS = tuple(float(1024 * 4**i) for i in range(9))  # 1 KiB .. 64 MiB


class Metrics:
    """The service's metrics; also the runner's observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.build_info = Gauge(
            "auditpipe_build_info", "Always 1; the labels say what runs", ["version", "python", "matcher"], registry=r
        )
        matcher = "compiled" if USING_EXTENSION else "python"
        self.build_info.labels(__version__, platform.python_version(), matcher).set(1)
        self.delivery_retries = Counter(
            "auditpipe_delivery_retries", "Records sent again after a failed delivery", ["output"], registry=r
        )
        self.records_in = Counter("auditpipe_records_received", "Records read from the sources", registry=r)
        self.events_in = Counter("auditpipe_events_received", "Audit events decoded", registry=r)
        self.events_delivered = Counter(
            "auditpipe_events_delivered", "Events durable in an output", ["output"], registry=r
        )
        self.dropped = Counter(
            "auditpipe_events_dropped", "Events dropped on purpose by the policy", ["reason", "rule"], registry=r
        )
        self.dead = Counter("auditpipe_dead_letters", "Records sent to the dead-letter output", ["reason"], registry=r)
        self.batch_seconds = Histogram(
            "auditpipe_batch_processing_seconds", "process() time per batch", registry=r, buckets=_LATENCY_BUCKETS
        )
        self.delivery_seconds = Histogram(
            "auditpipe_batch_delivery_seconds",
            "From reading a batch to all of it being durable",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.lag = Gauge(
            "auditpipe_consumer_lag",
            "Records not yet committed: the high watermark minus the group's committed offset",
            ["topic", "partition"],
            registry=r,
        )
        # The webhook source: `code` is one of the few statuses it answers (200, 400, 401, 413, 503).
        self.webhook_requests = Counter(
            "auditpipe_webhook_requests", "Webhook requests answered, by HTTP status", ["code"], registry=r
        )
        self.webhook_body_bytes = Histogram(
            "auditpipe_webhook_request_body_bytes", "Webhook request body sizes", registry=r, buckets=_BODY_BUCKETS
        )
        self.webhook_seconds = Histogram(
            "auditpipe_webhook_response_seconds",
            "From a webhook request's arrival to its answer (200: its events durable)",
            registry=r,
            buckets=_LATENCY_BUCKETS,
        )
        self.webhook_inflight_requests = Gauge(
            "auditpipe_webhook_inflight_requests", "Webhook requests accepted and not yet answered", registry=r
        )
        # HTTP outputs: `outcome` is 2xx, 3xx, 4xx, 5xx or error (no answer).
        self.http_requests = Counter(
            "auditpipe_http_output_requests", "Requests to HTTP outputs, by outcome", ["output", "outcome"], registry=r
        )

    # ---- RunObserver ---------------------------------------------------

    def batch_processed(self, stats: Stats, seconds: float) -> None:
        self.records_in.inc(stats.records_in)
        self.events_in.inc(stats.events_in)
        self.batch_seconds.observe(seconds)
        for (reason, rule), count in stats.dropped_by.items():
            self.dropped.labels(reason, "" if reason == REASON_NO_RULE else str(rule)).inc(count)

    def delivered(self, output: str, count: int) -> None:
        if count:
            self.events_delivered.labels(output).inc(count)

    def batch_durable(self, seconds: float) -> None:
        self.delivery_seconds.observe(seconds)

    def dead_lettered(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.dead.labels(letter.rejection.code.value).inc()

    def set_lag(self, topic: str, partition: int, behind: int | None) -> None:
        """``None``: the partition is no longer ours; its series goes."""
        if behind is None:
            try:
                self.lag.remove(topic, str(partition))
            except KeyError:
                pass
        else:
            self.lag.labels(topic, str(partition)).set(behind)

    # ---- components (sources.webhook.WebhookObserver, sinks.http.HttpObserver)

    def webhook_answered(self, code: int, body_bytes: int, seconds: float) -> None:
        self.webhook_requests.labels(str(code)).inc()
        self.webhook_body_bytes.observe(body_bytes)
        self.webhook_seconds.observe(seconds)

    def webhook_inflight(self, requests: int) -> None:
        self.webhook_inflight_requests.set(requests)

    def http_request(self, output: str, outcome: str) -> None:
        self.http_requests.labels(output, outcome).inc()

    def delivery_retried(self, output: str, records: int) -> None:
        self.delivery_retries.labels(output).inc(records)


async def serve(metrics: Metrics, host: str, port: int, readiness: Callable[[], Health]) -> web.AppRunner:
    """Start the endpoints; ``await runner.cleanup()`` stops them."""

    async def get_metrics(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        health = readiness()
        if health.ready:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {health.reason}\n")

    app = web.Application()
    app.router.add_get("/metrics", get_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return await listen(app, host, port)


async def listen(app: web.Application, host: str, port: int) -> web.AppRunner:
    """Serve ``app`` on ``host:port``.

    Raises
    ------
    StartupError
        The address cannot be had (in use, not an address of this host).
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise StartupError(
            f"cannot serve /metrics, /healthz and /readyz on {host}:{port}: {exc.strerror or exc} "
            "(set metrics.port, or metrics.enabled: false)",
            retriable=False,
        ) from None
    return runner
