"""A run that ends: read the inputs once, write the outputs, say how it went.

Used by ``filter`` and by ``run`` when no source runs forever. Ctrl-C (or
SIGTERM) stops reading, lets what was read settle, prints the summary so
far (with ``--stats``) and exits 130 (143).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from _fastmatch import USING_EXTENSION

from ..assemble import assemble
from ..config import Config, FileSource
from ..errors import DeliveryError, OutputClosed, StartupError
from ..levels import LEVEL_NONE, NO_RULE, OMITTED_STAGE, RECORDED_NONE
from ..process import Processor, Stats
from ..runner import Runner
from ..sources.lines import SAMPLE_NAME
from .common import EXIT_BROKEN_PIPE, EXIT_OK, EXIT_REJECTED, EXIT_USAGE, err, silence_stdout, stop_code

PROGRESS_MIN_BYTES = 16 * 1024 * 1024

_DROP_LABELS = {
    NO_RULE: "no rule matched (default level None)",
    LEVEL_NONE: "rule {rule} (level None)",
    RECORDED_NONE: "rule {rule} matched, but the event was recorded at level None",
    OMITTED_STAGE: "rule {rule} (stage omitted)",
}


def print_summary(stats: Stats, seconds: float, problems: Sequence[str], out: IO[str]) -> None:
    rate = stats.events_in / seconds if seconds > 0 else 0.0
    lines = [
        "summary:",
        f"  records in:  {stats.records_in}",
        f"  events in:   {stats.events_in}",
        f"  events out:  {stats.events_out}",
        f"  dropped:     {stats.dropped}",
    ]
    for (reason, rule), count in sorted(stats.dropped_by.items()):
        lines.append(f"    {_DROP_LABELS[reason].format(rule=rule)}: {count}")
    lines.append("  out by level:")
    for level in ("Metadata", "Request", "RequestResponse"):
        lines.append(f"    {level}: {stats.out_by_level.get(level, 0)}")
    if stats.out_by_output:
        lines.append("  out by output:")
        lines += [f"    {name}: {count}" for name, count in sorted(stats.out_by_output.items())]
    lines.append(f"  rejected:    {stats.rejected}")
    lines += [f"    {reason}: {count}" for reason, count in sorted(stats.rejected_by_reason.items())]
    if problems:
        lines.append(f"  unreadable inputs: {len(problems)}")
    lines.append(
        f"  elapsed:     {seconds:.3f} s ({rate:,.0f} events/s, matcher: "
        f"{'compiled' if USING_EXTENSION else 'pure Python'})"
    )
    try:
        print("\n".join(lines), file=out, flush=True)
    except (OSError, ValueError):
        pass


def _progress(config: Config) -> Any:
    paths = [p for s in config.sources if isinstance(s, FileSource) for p in s.paths]
    size = 0
    for p in paths:
        if p not in ("-", SAMPLE_NAME):
            try:
                size += os.stat(p).st_size
            except OSError:
                pass
    if not sys.stderr.isatty() or size < PROGRESS_MIN_BYTES:
        return None
    from tqdm import tqdm

    return tqdm(total=size, unit="B", unit_scale=True, file=sys.stderr, desc="auditpipe")


def run_batch(config: Config, processor: Processor, *, show_stats: bool) -> int:
    """Run ``config``'s sources to their end; the exit code says how it went."""
    progress = _progress(config)
    components = assemble(
        config,
        on_problem=lambda m: err(f"auditpipe: {m}"),
        report=lambda line: err(f"error: {line}"),
        on_bytes=progress.update if progress is not None else None,
    )
    runner = Runner(
        processor,
        components.sources,
        components.sinks,
        components.dead_letters,
        max_inflight_batches=config.delivery.max_inflight_batches,
        shutdown_timeout_secs=config.delivery.shutdown_timeout_secs,
    )
    stopped_by: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            if stopped_by:
                raise KeyboardInterrupt  # a second signal: stop now
            stopped_by.append(signum)
            runner.request_stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop, signum)
        try:
            await runner.start()
            await runner.run()
        finally:
            try:
                await runner.close()
            except DeliveryError:
                pass  # the run's own outcome is what counts

    started = time.perf_counter()
    failure: DeliveryError | StartupError | None = None
    try:
        asyncio.run(main())
    except (DeliveryError, StartupError) as exc:
        failure = exc
    except KeyboardInterrupt:
        stopped_by.append(signal.SIGINT)
    finally:
        if progress is not None:
            progress.close()
    problems = [p for s in components.sources for p in getattr(s, "problems", [])]
    if isinstance(failure, OutputClosed):
        silence_stdout()
        return EXIT_BROKEN_PIPE
    if failure is not None:
        err(f"auditpipe: {failure}")
    if stopped_by:
        err(
            "auditpipe: interrupted; the summary covers what was read so far"
            if show_stats
            else "auditpipe: interrupted"
        )
    if show_stats:
        print_summary(runner.stats, time.perf_counter() - started, problems, sys.stderr)
    code = stop_code(stopped_by[0] if stopped_by else None)
    if code is not None:
        return code
    if failure is not None:
        return EXIT_USAGE
    return EXIT_REJECTED if runner.stats.rejected or problems else EXIT_OK
