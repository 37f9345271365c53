"""``python -m devtools.kafka`` (``scripts/kafka-dev``): the broker from the command line.

Progress and details go to stderr; the last stdout line of ``start`` and ``status`` is
the PLAINTEXT bootstrap address, so ``$(scripts/kafka-dev start | tail -1)`` works.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence

from .admin import ensure_topics
from .broker import Broker
from .compose import compose_properties_text
from .env import ENV_HELP, broker_from_env
from .errors import KafkaDevError
from .jars import ensure_jars

DESCRIPTION = """\
Run a real single-node Apache Kafka broker (KRaft) for development, tests and CI,
from Maven Central jars with the machine's Java 17+ and Maven (no Docker).

Listeners (P = KAFKA_DEV_PORT): PLAINTEXT P, CONTROLLER P+1, SASL_PLAINTEXT P+2,
SSL P+3, SASL_SSL P+4, MTLS P+5 (client certificate required), WRONG_HOST P+6
(SSL on 127.0.0.2). SASL user auditpipe, password auditpipe-secret (PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512). ANONYMOUS (PLAINTEXT, SSL) is a super user;
everything is allowed unless an ACL says otherwise (see deny-write).
"""


def _info(message: str) -> None:
    # Progress goes to stderr so that the last line of stdout stays the address.
    print(f"kafka-dev: {message}", file=sys.stderr, flush=True)


def describe(broker: Broker, addresses: Mapping[str, str] | None = None) -> list[str]:
    """Human-readable lines: every listener (at ``addresses`` by role, if given: those a
    running broker recorded) and the TLS material."""
    addresses = addresses or {}
    lines = [f"{x.name:<15} {x.protocol:<15} {addresses.get(x.role, x.address)}" for x in broker.listeners]
    tls = broker.tls
    lines += [
        f"SASL user {broker.sasl_user} / {broker.sasl_password} ({', '.join(broker.sasl_mechanisms)})",
        f"TLS CA {tls.ca_file}",
        f"TLS client cert {tls.client_cert} key {tls.client_key} (principal {tls.client_principal})",
        f"wrong CA {tls.wrong_ca_file}",
        f"home {broker.paths.home}",
    ]
    return lines


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kafka-dev", description=DESCRIPTION, epilog=ENV_HELP, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    verbs.add_parser("start", help="start (idempotent); the last stdout line is the bootstrap address")
    stop = verbs.add_parser("stop", help="SIGTERM, SIGKILL after a grace period")
    stop.add_argument("--kill", action="store_true", help="SIGKILL at once, like `kill`")
    verbs.add_parser("kill", help="SIGKILL at once (a broker crash)")
    verbs.add_parser("status", help="exit 0 and print the address if running, else exit 1")
    verbs.add_parser("restart", help="stop, then start")
    verbs.add_parser("reset", help="stop and wipe all broker data (topics, offsets, ACLs, TLS material)")
    logs = verbs.add_parser("logs", help="the tail of the broker log")
    logs.add_argument("-n", type=int, default=50, help="lines (default 50)")
    logs.add_argument("-f", action="store_true", help="follow")
    verbs.add_parser("fetch", help="only resolve the jars into the cache (for CI caching)")
    deny = verbs.add_parser("deny-write", help="make the broker refuse a principal's writes to a topic")
    deny.add_argument("topic")
    deny.add_argument("--principal", default="User:auditpipe", help="default User:auditpipe (the SASL user)")
    verbs.add_parser("compose-config", help="print docker-compose.yml's server.properties")
    topics = verbs.add_parser("create-topics", help="create the topics that do not exist yet (auditpipe never does)")
    topics.add_argument("names", nargs="+", metavar="TOPIC")
    topics.add_argument("--partitions", type=int, default=4, help="partitions of each new topic (default 4)")
    topics.add_argument(
        "--config",
        action="append",
        default=[],
        type=_key_value,
        metavar="KEY=VALUE",
        help="a topic config, e.g. max.message.bytes=16777216 (repeatable)",
    )
    return parser


def _follow(broker: Broker) -> None:
    with contextlib.suppress(KeyboardInterrupt), open(broker.paths.log, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        while True:
            chunk = fh.read()
            if chunk:
                sys.stdout.write(chunk.decode("utf-8", "replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.5)


def run(args: argparse.Namespace) -> int:
    """Carry out one verb; returns the exit code."""
    broker = broker_from_env(log=_info)
    if args.verb == "start":
        broker.start()
        for line in describe(broker):
            _info(line)
        print(broker.bootstrap)
    elif args.verb == "stop":
        broker.kill() if args.kill else broker.stop()
    elif args.verb == "kill":
        broker.kill()
    elif args.verb == "status":
        status = broker.status
        if not status.running:
            _info("not running")
            return 1
        _info(f"running (pid {status.pid})")
        for line in describe(broker, status.addresses):
            _info(line)
        print(status.bootstrap or broker.bootstrap)
    elif args.verb == "restart":
        broker.restart()
        print(broker.bootstrap)
    elif args.verb == "reset":
        broker.reset()
    elif args.verb == "logs":
        print(broker.logs(args.n))
        if args.f:
            _follow(broker)
    elif args.verb == "fetch":
        print(ensure_jars(broker.cache, broker.version, broker.options.mvn, _info))
    elif args.verb == "deny-write":
        broker.deny_write(args.topic, args.principal)
        _info(f"{args.principal} may no longer write to {args.topic}")
    elif args.verb == "compose-config":
        sys.stdout.write(compose_properties_text())
    elif args.verb == "create-topics":
        configs = dict(args.config)
        created = asyncio.run(ensure_topics(broker.bootstrap, args.names, args.partitions, configs))
        existing = sorted(set(args.names) - set(created))
        _info(f"created: {', '.join(created) or 'none'}; already there: {', '.join(existing) or 'none'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns the exit code (2 for usage errors)."""
    # Behave like a normal CLI when piped into `head`: die quietly on EPIPE.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    try:
        return run(args)
    except KafkaDevError as exc:
        _info(str(exc))
        return 1
