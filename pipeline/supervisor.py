"""``--workers N``: N service processes in one consumer group, watched by one
supervisor process.

* A worker that dies (a crash, an out-of-memory kill, ``kill -9``) is logged
  and started again, after 1 s doubling to 30 s while it keeps dying soon
  after start. Its partitions go to the other members meanwhile, so nothing
  is left behind. A worker that exits 2 (the config or the credentials are
  wrong) is not restarted, as it would fail the same way: every worker is
  stopped and the supervisor exits 2.
* The supervisor serves the one metrics endpoint of the pod: the workers
  serve theirs on 127.0.0.1, ports ``metrics.port + 1 .. + N``, and
  ``/metrics`` merges them with a ``worker`` label and adds the supervisor's
  own (restarts, workers running). ``/readyz`` is ready when every worker is
  running and ready; ``/healthz`` answers while the supervisor runs.
* SIGTERM and SIGINT are forwarded; the exit code is the worst of the
  workers' last exits (a worker killed by a signal counts as 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

import aiohttp
import msgspec
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from .config import Config
from .errors import StartupError
from .policy import LoadedPolicy
from .telemetry import listen

log = logging.getLogger("auditpipe")

EXIT_USAGE = 2
FIRST_RESTART_DELAY_SECS = 1.0
MAX_RESTART_DELAY_SECS = 30.0
STABLE_AFTER_SECS = 60.0  # a worker up this long starts its backoff again from the first delay
POLL_SECS = 0.25
SCRAPE_TIMEOUT_SECS = 2.0


def _worker(config: Config, loaded: LoadedPolicy) -> None:
    import sys

    from .service import run_one

    sys.exit(run_one(config, loaded))


def worker_config(config: Config, index: int) -> Config:
    """Worker ``index``'s config: its metrics on a loopback port of its own."""
    metrics = msgspec.structs.replace(config.metrics, host="127.0.0.1", port=config.metrics.port + 1 + index)
    return msgspec.structs.replace(config, metrics=metrics)


@dataclass(slots=True)
class _Worker:
    index: int
    config: Config
    process: BaseProcess | None = None
    started: float = 0.0
    quick_deaths: int = 0  # deaths soon after start, in a row
    restart_at: float | None = None
    last_exit: int = 0


class _Snapshot:
    """Families parsed from the workers, as a collector for one render."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Sequence[Metric]:
        return self._families


def merge_worker_metrics(texts: Sequence[str | None]) -> bytes:
    """The workers' exposition texts as one, each sample labelled with its
    worker's index; ``None`` (a worker not answering) is left out."""
    families: dict[str, Metric] = {}
    for index, text in enumerate(texts):
        if text is None:
            continue
        for family in text_string_to_metric_families(text):
            merged = families.get(family.name)
            if merged is None:
                merged = families[family.name] = Metric(family.name, family.documentation, family.type, family.unit)
            for sample in family.samples:
                merged.samples.append(sample._replace(labels={**sample.labels, "worker": str(index)}))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(list(families.values())))
    return generate_latest(registry)


class Supervisor:
    def __init__(self, config: Config, loaded: LoadedPolicy, workers: int) -> None:
        self.config = config
        self.loaded = loaded
        self.workers = [_Worker(i, worker_config(config, i)) for i in range(workers)]
        self._ctx = multiprocessing.get_context("spawn")
        self._stopping = asyncio.Event()
        self._usage_failure = False
        self.registry = CollectorRegistry()
        self._restarts = Counter(
            "auditpipe_worker_restarts", "Workers started again after dying", ["worker"], registry=self.registry
        )
        self._running = Gauge("auditpipe_workers_running", "Worker processes running now", registry=self.registry)

    def _start(self, w: _Worker) -> None:
        w.process = self._ctx.Process(target=_worker, args=(w.config, self.loaded), name=f"auditpipe-worker-{w.index}")
        w.process.start()
        w.started = time.monotonic()
        w.restart_at = None
        log.info("Worker started.", extra={"worker": w.index, "worker_pid": w.process.pid})

    def _alive(self) -> list[_Worker]:
        return [w for w in self.workers if w.process is not None and w.process.is_alive()]

    def _watch_once(self) -> None:
        now = time.monotonic()
        for w in self.workers:
            p = w.process
            if p is None or p.is_alive():
                if p is not None and now - w.started > STABLE_AFTER_SECS:
                    w.quick_deaths = 0
                continue
            if w.restart_at is None:  # it just ended
                code = p.exitcode if p.exitcode is not None else 1
                w.last_exit = code
                if code == 0:
                    log.info("Worker finished.", extra={"worker": w.index})
                    w.process = None
                    continue
                if code == EXIT_USAGE:
                    log.error(
                        "Worker exited 2 (a configuration or credentials problem a restart would repeat); "
                        "stopping every worker.",
                        extra={"worker": w.index},
                    )
                    self._usage_failure = True
                    self.stop(signal.SIGTERM)
                    return
                delay = min(FIRST_RESTART_DELAY_SECS * 2**w.quick_deaths, MAX_RESTART_DELAY_SECS)
                w.quick_deaths += 1
                w.restart_at = now + delay
                how = f"signal {-code}" if code < 0 else f"exit code {code}"
                log.error(
                    "Worker died; starting it again.",
                    extra={"worker": w.index, "worker_pid": p.pid, "ended_by": how, "restart_in_secs": delay},
                )
            elif now >= w.restart_at:
                self._restarts.labels(str(w.index)).inc()
                self._start(w)
        self._running.set(len(self._alive()))

    def stop(self, signum: int) -> None:
        if not self._stopping.is_set():
            log.info("Stopping the workers.", extra={"signal": signal.Signals(signum).name})
        self._stopping.set()
        for w in self._alive():
            assert w.process is not None and w.process.pid is not None
            with contextlib.suppress(ProcessLookupError):  # it ended since is_alive()
                os.kill(w.process.pid, signum)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop, signum)
        server = None
        if self.config.metrics.enabled:
            try:
                server = await self._serve()
            except StartupError as exc:
                log.error("Cannot start.", extra={"error": str(exc)})
                return EXIT_USAGE
        for w in self.workers:
            self._start(w)
        try:
            while not self._stopping.is_set() and any(w.process is not None for w in self.workers):
                self._watch_once()
                try:
                    await asyncio.wait_for(self._stopping.wait(), POLL_SECS)
                except TimeoutError:
                    pass
            await self._join(self.config.delivery.shutdown_timeout_secs + 10)
        finally:
            if server is not None:
                await server.cleanup()
        codes = [w.last_exit for w in self.workers]
        log.info("All workers stopped.", extra={"exit_codes": codes})
        if self._usage_failure:
            return EXIT_USAGE
        return max((1 if c < 0 else c for c in codes), default=0)

    async def _join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self._alive() and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECS)
        for w in self._alive():
            assert w.process is not None
            log.error("Worker did not stop in time; killing it.", extra={"worker": w.index})
            w.process.kill()
        for w in self.workers:
            if w.process is not None:
                w.process.join()
                if w.restart_at is None and w.process.exitcode is not None:
                    w.last_exit = w.process.exitcode

    # ---- the one endpoint --------------------------------------------------

    async def _serve(self) -> web.AppRunner:
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_SECS))

        async def fetch(w: _Worker, path: str) -> tuple[int, str] | None:
            if w.process is None or not w.process.is_alive():
                return None
            try:
                async with session.get(f"http://127.0.0.1:{w.config.metrics.port}{path}") as response:
                    return response.status, await response.text()
            except (aiohttp.ClientError, TimeoutError):
                return None

        async def metrics(_: web.Request) -> web.Response:
            answers = await asyncio.gather(*(fetch(w, "/metrics") for w in self.workers))
            body = merge_worker_metrics([a[1] if a else None for a in answers]) + generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        async def healthz(_: web.Request) -> web.Response:
            return web.Response(text="ok\n")

        async def readyz(_: web.Request) -> web.Response:
            if self._stopping.is_set():
                return web.Response(status=503, text="not ready: stopping\n")
            answers = await asyncio.gather(*(fetch(w, "/readyz") for w in self.workers))
            for w, answer in zip(self.workers, answers):
                if answer is None:
                    return web.Response(status=503, text=f"not ready: worker {w.index} is not running\n")
                if answer[0] != 200:
                    return web.Response(status=503, text=f"worker {w.index} {answer[1]}")
            return web.Response(text="ready\n")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)

        async def close_session(_: web.Application) -> None:
            await session.close()

        app.on_cleanup.append(close_session)
        return await listen(app, self.config.metrics.host, self.config.metrics.port)


def supervise(config: Config, loaded: LoadedPolicy, workers: int) -> int:
    """Run ``workers`` service processes until stopped; returns the exit code."""
    return asyncio.run(Supervisor(config, loaded, workers).run())
