"""Prometheus metrics with fixed names and bounded labels, and an HTTP endpoint
for ``/metrics``, ``/healthz`` and ``/readyz``.

Counters are updated once per batch, never per event.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .process import NO_RULE, Stats

log = logging.getLogger("auditpipe")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.records_in = Counter("auditpipe_records_received", "Kafka records consumed", registry=r)
        self.events_in = Counter("auditpipe_events_received", "Audit events decoded", registry=r)
        self.events_out = Counter("auditpipe_events_sent", "Events delivered, per output topic", ["topic"], registry=r)
        self.dropped = Counter("auditpipe_events_dropped", "Events dropped on purpose by the policy",
                               ["reason", "rule"], registry=r)
        self.dead = Counter("auditpipe_dead_letters", "Records sent to the dead-letter topic", ["reason"], registry=r)
        self.batch_seconds = Histogram("auditpipe_batch_processing_seconds", "process() time per batch",
                                       registry=r, buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                            0.1, 0.25, 0.5, 1, 2.5))
        self.delivery_seconds = Histogram("auditpipe_batch_delivery_seconds",
                                          "From send to broker acknowledgement, per batch", registry=r)
        self.lag = Gauge("auditpipe_consumer_lag", "Records behind the high watermark", ["topic", "partition"],
                         registry=r)
        self.ready = False

    def observe_batch(self, stats: Stats, seconds: float) -> None:
        self.records_in.inc(stats.records_in)
        self.events_in.inc(stats.events_in)
        self.batch_seconds.observe(seconds)
        for rule, count in stats.dropped_by_rule.items():
            reason = "no_rule" if rule == NO_RULE else "level_none"
            self.dropped.labels(reason, str(rule)).inc(count)
        for rule, count in stats.dropped_by_stage.items():
            self.dropped.labels("omitted_stage", str(rule)).inc(count)

    async def serve(self, host: str, port: int) -> asyncio.AbstractServer:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                request = await asyncio.wait_for(reader.readline(), 5)
                while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b"\n", b""):
                    pass
                path = request.split(b" ")[1].decode("latin-1") if request.count(b" ") >= 2 else "/"
                status, ctype, body = "404 Not Found", "text/plain", b"not found\n"
                if path.startswith("/metrics"):
                    status, ctype, body = "200 OK", CONTENT_TYPE_LATEST, generate_latest(self.registry)
                elif path == "/healthz":
                    status, body = "200 OK", b"ok\n"
                elif path == "/readyz":
                    status, body = ("200 OK", b"ready\n") if self.ready else ("503 Service Unavailable",
                                                                             b"not ready\n")
                writer.write(f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                             "Connection: close\r\n\r\n".encode() + body)
                await writer.drain()
            except (asyncio.TimeoutError, ConnectionError, IndexError):
                pass
            finally:
                writer.close()

        return await asyncio.start_server(handle, host, port)
