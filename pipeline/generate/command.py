"""``auditpipe generate``: seeded synthetic audit events to stdout, a file or a Kafka topic.

Exit codes: 0 done (or the reader of stdout went away); 2 a usage error or an
output that failed (one line on stderr); 130 interrupted by Ctrl-C (one summary
line on stderr, everything generated so far written or delivered).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from types import FrameType
from typing import Any, BinaryIO, Final

from .framing import SHAPES, Framer
from .pacing import RateSchedule
from .progress import Progress, StopRequest

__all__ = ["register", "run"]

EXIT_OK: Final = 0
EXIT_ERROR: Final = 2
EXIT_INTERRUPTED: Final = 130  # 128 + SIGINT, as shells report it
PROG: Final = "auditpipe generate"
COMPRESSIONS: Final = ("none", "gzip", "snappy", "lz4", "zstd")
FILE_BUFFER_BYTES: Final = 1 << 20

_EXAMPLES = """\
examples:
  auditpipe generate --count 100000 --output events.jsonl
  auditpipe generate --count 0 --rate 2000 --kafka-bootstrap localhost:9092 --topic audit
  auditpipe generate --shape fluent-bit --count 1000 | auditpipe filter --policy policy.yaml
"""


class UsageError(Exception):
    """An option value that cannot be used; the message names the option."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``generate`` subcommand to the ``auditpipe`` parser.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``add_subparsers()`` result of the top-level parser. The subcommand's
        ``func`` default takes the parsed arguments and returns the exit code.
    """
    p = subparsers.add_parser(
        "generate",
        help="write seeded synthetic audit events (a busy cluster's mix) for load tests",
        description="Generate realistic kube-apiserver audit events from a seed: the same seed always gives the "
        "same bytes. Write them to stdout, a file or a Kafka topic, at a steady rate or as fast "
        "as possible.",
        epilog=_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # Numbers are read as text and checked in run(), so a bad value is one line on stderr, not a usage dump.
    p.add_argument(
        "--count", default="10000", metavar="N", help="events to generate; 0 = until interrupted (default 10000)"
    )
    p.add_argument("--seed", default="0", metavar="S", help="seed of the simulated cluster and stream (default 0)")
    p.add_argument(
        "--rate",
        default="0",
        metavar="EVENTS_PER_SEC",
        help="steady rate in events per second; 0 = as fast as possible (default 0)",
    )
    p.add_argument(
        "--shape",
        choices=SHAPES,
        default="raw",
        help='raw apiserver lines, Fluent Bit envelopes {"@timestamp", "log"}, or webhook EventLists (default raw)',
    )
    p.add_argument(
        "--batch",
        default="400",
        metavar="N",
        help="events per EventList with --shape eventlist (default 400, kube-apiserver's); a paced "
        "run sends a partial list once its oldest event has waited 1 s",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="write here, one record per line; - = stdout (default)")
    p.add_argument("--kafka-bootstrap", metavar="HOST:PORT", help="produce to Kafka instead (needs --topic)")
    p.add_argument("--topic", help="Kafka topic to produce to; records of one event are keyed by its auditID")
    p.add_argument("--compression", choices=COMPRESSIONS, default="lz4", help="Kafka compression (default lz4)")
    p.add_argument(
        "--max-message-bytes",
        default="1000000",
        metavar="N",
        help="largest Kafka record value; EventLists are cut to fit (default 1000000)",
    )
    p.add_argument("--stats", action="store_true", help="print events/s and bytes to stderr at the end")
    p.set_defaults(func=run)


def _number(args: argparse.Namespace, name: str, kind: type[int] | type[float], minimum: float | None) -> Any:
    text = getattr(args, name)
    option = "--" + name.replace("_", "-")
    try:
        value = kind(text)
    except ValueError:
        raise UsageError(f"{option} wants {'a whole number' if kind is int else 'a number'}, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{option} must be finite, got {text!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{option} must be at least {minimum:g}, got {text!r}")
    return value


def _report(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Run ``auditpipe generate`` with parsed arguments; return the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        As :func:`register` defines them.

    Returns
    -------
    int
        0 done, 2 error, 130 interrupted.
    """
    try:
        count = _number(args, "count", int, 0)
        seed = _number(args, "seed", int, None)
        rate = _number(args, "rate", float, 0)
        batch = _number(args, "batch", int, 1)
        max_bytes = _number(args, "max_message_bytes", int, 1024)
        if bool(args.kafka_bootstrap) != bool(args.topic):
            raise UsageError("--kafka-bootstrap and --topic go together")
        if args.kafka_bootstrap and args.output is not None:
            raise UsageError("--output and --kafka-bootstrap are alternatives: choose one")
    except UsageError as exc:
        _report(str(exc))
        return EXIT_ERROR
    stop = StopRequest()
    progress = Progress()
    previous = _install_sigint(stop)
    try:
        from .stream import iter_events

        lines: Iterator[bytes] = iter_events(seed)
        if count:
            lines = itertools.islice(lines, count)
        schedule = RateSchedule(rate) if rate > 0 else None
        if args.kafka_bootstrap:
            return _to_kafka(args, lines, Framer(args.shape, batch, max_bytes), schedule, progress, stop, max_bytes)
        return _to_file(args, lines, Framer(args.shape, batch), schedule, progress, stop)
    except KeyboardInterrupt:  # a Ctrl-C before the handler was in place, or off the main thread
        _report(f"interrupted after {progress.describe()}")
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _install_sigint(stop: StopRequest) -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request()

    return signal.signal(signal.SIGINT, handler)


def _to_file(
    args: argparse.Namespace,
    lines: Iterator[bytes],
    framer: Framer,
    schedule: RateSchedule | None,
    progress: Progress,
    stop: StopRequest,
) -> int:
    from .file_output import write_records

    path = args.output if args.output not in (None, "-") else None
    with ExitStack() as stack:
        try:
            out: BinaryIO = (
                sys.stdout.buffer
                if path is None
                else stack.enter_context(open(path, "wb", buffering=FILE_BUFFER_BYTES))
            )
            write_records(lines, out, framer, schedule, progress, stop)
        except BrokenPipeError:
            _detach_stdout()
            return EXIT_OK  # the reader has all it wanted (head, a closed pager)
        except OSError as exc:
            _report(f"cannot write {path or 'stdout'}: {exc.strerror or exc}")
            return EXIT_ERROR
    if stop.requested:
        _report(f"interrupted after {progress.describe()}")
        return EXIT_INTERRUPTED
    if args.stats:
        _report(progress.describe())
    return EXIT_OK


def _detach_stdout() -> None:
    # Point stdout at /dev/null, so the interpreter's final flush of what is still buffered
    # does not fail (and print a traceback) on the closed pipe.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _to_kafka(
    args: argparse.Namespace,
    lines: Iterator[bytes],
    framer: Framer,
    schedule: RateSchedule | None,
    progress: Progress,
    stop: StopRequest,
    max_bytes: int,
) -> int:
    # Imported here: every command loads this module, and only this one needs an event loop.
    import asyncio

    from .kafka_output import DeliveryError, KafkaTarget, produce_records

    target = KafkaTarget(args.kafka_bootstrap, args.topic, args.compression, max_bytes)
    try:
        asyncio.run(produce_records(lines, target, framer, schedule, progress, stop))
    except DeliveryError as exc:
        _report(f"Kafka at {target.bootstrap}, topic {target.topic}: {exc} ({_delivered(progress)})")
        return EXIT_ERROR
    delivered = f"{_delivered(progress)} to topic {target.topic}"
    if stop.requested:
        _report(f"interrupted: {delivered}; generated {progress.describe()}")
        return EXIT_INTERRUPTED
    _report(delivered)
    if args.stats:
        _report(progress.describe())
    return EXIT_OK


def _delivered(progress: Progress) -> str:
    return (
        f"delivered {progress.delivered_events:,} events in {progress.delivered_records:,} of "
        f"{progress.records:,} records"
    )
