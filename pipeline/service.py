"""The long-running service: the runner, plus what a process in a cluster
needs around it: logs, metrics and probes, signals, a bounded graceful stop.

SIGTERM or SIGINT stops reading, settles what is in flight (delivers,
acknowledges), and exits 0 within ``shutdown_timeout_secs``. A delivery that
fails for good exits 1 without acknowledging past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from typing import Any

from .assemble import assemble
from .config import Config, masked
from .errors import DeliveryError, StartupError
from .logs import configure
from .policy import LoadedPolicy
from .process import Processor
from .runner import Runner
from .sources.base import READY, Health
from .telemetry import Metrics, serve

log = logging.getLogger("auditpipe")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class Service:
    """One process of the service (``--workers N`` runs N of them)."""

    def __init__(self, config: Config, loaded: LoadedPolicy) -> None:
        self.config = config
        self.metrics = Metrics()
        self.metrics_port = config.metrics.port
        components = assemble(
            config,
            on_problem=lambda m: log.error("Input problem.", extra={"detail": m}),
            lag=self.metrics.set_lag,
            observer=self.metrics,
        )
        self.components = components
        self.runner = Runner(
            Processor(loaded, config),
            components.sources,
            components.sinks,
            components.dead_letters,
            max_inflight_batches=config.delivery.max_inflight_batches,
            shutdown_timeout_secs=config.delivery.shutdown_timeout_secs,
            observer=self.metrics,
        )
        self.started = False

    def readiness(self) -> Health:
        if not self.started:
            return Health(False, "starting")
        if self.runner.stopping:
            return Health(False, "stopping")
        stuck = self.runner.oldest_inflight_secs()
        if stuck > self.config.delivery.stuck_after_secs:
            return Health(False, f"delivery stuck: a batch has waited {stuck:.0f} s for its outputs")
        checks = [s.health for s in self.components.sources] + [s.health for s in self.components.sinks.values()]
        for check in checks:
            health = check()
            if not health.ready:
                return health
        return READY

    async def _start_unless_stopped(self, stop_requested: asyncio.Event) -> bool:
        """Start the runner; False if a stop came first.

        A stop during start-up (Kafka unreachable, retried until the deadline)
        ends the retries at once: a pod being stopped is not kept waiting for
        a broker, then SIGKILLed.

        Raises
        ------
        StartupError
            The start failed.
        """
        starting = asyncio.ensure_future(self.runner.start())
        stopped = asyncio.ensure_future(stop_requested.wait())
        await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if starting.done():
            starting.result()
            return True
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        log.info("Stopped during start-up.")
        return False

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        stop_requested = asyncio.Event()

        def on_signal() -> None:
            self.runner.request_stop()
            stop_requested.set()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, on_signal)
        server = None
        if self.config.metrics.enabled:
            try:
                server = await serve(self.metrics, self.config.metrics.host, self.metrics_port, self.readiness)
            except StartupError as exc:
                log.error("Cannot start.", extra={"error": str(exc)})
                return EXIT_USAGE
        log.info("Starting.", extra={"metrics_port": self.metrics_port, "config": masked(self.config)})
        code = EXIT_OK
        try:
            if await self._start_unless_stopped(stop_requested):
                self.started = True
                await self.runner.run()
        except StartupError as exc:
            log.error("Cannot start.", extra={"error": str(exc)})
            code = EXIT_UNREACHABLE if exc.retriable else EXIT_USAGE
        except DeliveryError as exc:
            log.error(
                "Stopping on a delivery error; nothing after the last delivered batch was acknowledged.",
                extra={"error": str(exc)},
            )
            code = EXIT_FAILED
        finally:
            try:
                await asyncio.wait_for(self.runner.close(), self.config.delivery.shutdown_timeout_secs)
            except (TimeoutError, DeliveryError) as exc:
                log.warning("Closing did not finish cleanly.", extra={"error": repr(exc)})
            if server is not None:
                await server.cleanup()
        log.info("Stopped.", extra={"exit_code": code})
        return code


def run_one(config: Config, loaded: LoadedPolicy) -> int:
    """Run one service process to its end; returns the exit code."""
    configure(config.log_level, config.log_format)
    runner: Any = asyncio.run
    if not os.environ.get("AUDITPIPE_NO_UVLOOP"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:  # optional (`pip install auditpipe[fast]`): the stdlib loop works too
            pass
    code: int = runner(Service(config, loaded).run())
    return code


def run_service(config: Config, loaded: LoadedPolicy, workers: int = 1) -> int:
    """The service; ``workers`` > 1 runs that many processes in one consumer group."""
    if workers <= 1:
        return run_one(config, loaded)
    from .supervisor import supervise

    configure(config.log_level, config.log_format)
    return supervise(config, loaded, workers)
