"""The ``auditpipe`` command line: argument parsing and exit codes only; the
work is done by the modules each command calls."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import msgspec

from .. import __version__
from .. import config as config_mod
from .. import policy as policy_mod
from ..config import FileOutput, FileSource, WebhookSource
from ..errors import ConfigError, PipelineError, StartupError
from ..generate.command import register as register_generate
from ..process import Processor
from ..sources.lines import STDIN
from . import policy as policy_cmd
from .batch import run_batch
from .common import (
    EXIT_BROKEN_PIPE,
    EXIT_CODES_HELP,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    err,
    guard_standard_streams,
    load_policy,
    silence_stdout,
)

DESCRIPTION = "Apply a Kubernetes audit Policy, exactly as kube-apiserver does, to audit events anywhere."


def _config(path: str | None) -> config_mod.Config:
    return config_mod.Config() if path is None else config_mod.load(path)


def _same_file(a: str, b: str) -> bool:
    try:
        if b == STDIN:
            st, other = os.fstat(0), os.stat(a)
            return (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)
        return os.path.samefile(a, b)
    except OSError:
        return False


def cmd_filter(args: argparse.Namespace) -> int:
    files = args.files or [STDIN]
    if args.rejects is not None:
        if args.rejects == "-":
            err("auditpipe: --rejects -: standard output carries the kept events; name a file")
            return EXIT_USAGE
        for path in files:
            if _same_file(args.rejects, path):
                err(f"auditpipe: --rejects {args.rejects} is also an input; writing it would destroy the input")
                return EXIT_USAGE
    config = _config(args.config)
    loaded = load_policy(args.policy, args.lenient)
    dead = config_mod.DeadLetterFile(path=args.rejects, mode="truncate") if args.rejects else None
    # filter writes every kept event once, to stdout; a config's outputs are ignored.
    config = msgspec.structs.replace(
        config,
        sources=[FileSource(paths=files)],
        outputs=[],
        default_output=FileOutput(name="stdout", path="-"),
        dead_letters=dead,
    )
    return run_batch(config, Processor(loaded, config), show_stats=args.stats)


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args.config)
    if args.log_format is not None:
        config = msgspec.structs.replace(config, log_format=args.log_format)
    loaded = load_policy(config.policy, config.policy_lenient)
    if args.workers != 1 and any(isinstance(s, WebhookSource) for s in config.sources):
        err("auditpipe: --workers needs a Kafka source (a webhook listens on one port: run replicas instead)")
        return EXIT_USAGE
    if any(not isinstance(s, FileSource) for s in config.sources):
        if args.workers != 1 and any(isinstance(s, config_mod.LogSource) for s in config.sources):
            err("auditpipe: --workers needs a Kafka source (a log source is followed by one process)")
            return EXIT_USAGE
        from ..service import run_service

        return run_service(config, loaded, workers=args.workers)
    if args.workers != 1:
        err("auditpipe: --workers needs a Kafka source (file inputs are read by one process)")
        return EXIT_USAGE
    return run_batch(config, Processor(loaded, config), show_stats=True)


def cmd_config_schema(args: argparse.Namespace) -> int:
    sys.stdout.write(config_mod.schema_json())
    sys.stdout.flush()
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    load_policy(config.policy, config.policy_lenient)
    print(f"{args.config}: ok", flush=True)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="auditpipe",
        description=DESCRIPTION,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"auditpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_text: str
    ) -> argparse.ArgumentParser:
        return parent.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = command(sub, "filter", "apply a policy to audit events in files (or stdin); write kept events as JSON lines")
    p.add_argument("--policy", required=True, help="audit.k8s.io/v1 Policy file (YAML or JSON)")
    p.add_argument("--config", help="pipeline config (for enrichment and limits)")
    p.add_argument("--lenient", action="store_true", help="drop unknown policy fields as kube-apiserver does")
    p.add_argument("--stats", action="store_true", help="print a summary to stderr")
    p.add_argument(
        "--rejects",
        metavar="FILE",
        help="also write rejected records, unchanged, to FILE (created at the first reject)",
    )
    p.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="input files of JSON lines, plain or gzip (detected by content); none or - for stdin",
    )
    p.set_defaults(func=cmd_filter)

    p = command(sub, "run", "run a config's pipeline; with no config, the bundled sample through the bundled policy")
    p.add_argument("--config", help="pipeline config (YAML); see configs/example.yaml")
    p.add_argument("--workers", type=int, default=1, help="processes in one consumer group (Kafka sources only)")
    p.add_argument("--log-format", choices=("logfmt", "json"), help="log line format (default: the config's)")
    p.set_defaults(func=cmd_run)

    pol = command(sub, "policy", "check or explain an audit policy")
    psub = pol.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    p = command(psub, "check", "validate a policy as kube-apiserver does; unknown fields are errors unless --lenient")
    p.add_argument("policy", metavar="POLICY", help="audit.k8s.io/v1 Policy file (YAML or JSON)")
    p.add_argument("--lenient", action="store_true", help="warn about unknown fields and drop them, as kube does")
    p.set_defaults(func=policy_cmd.cmd_check)
    p = command(psub, "explain", "for each event: which rule matched, why, and the resulting level")
    p.add_argument("policy", metavar="POLICY", help="audit.k8s.io/v1 Policy file (YAML or JSON)")
    p.add_argument("events", metavar="EVENTS", help="audit events, JSON lines (plain or gzip; - for stdin)")
    p.add_argument(
        "--lenient",
        action="store_true",
        help="load as kube-apiserver does, and count how much wider the dropped fields made each rule",
    )
    p.set_defaults(func=policy_cmd.cmd_explain)

    cfg = command(sub, "config", "check a pipeline config")
    csub = cfg.add_subparsers(dest="config_command", required=True, metavar="COMMAND")
    p = command(csub, "check", "load a config and its policy, with every check `run` makes; no network I/O")
    p.add_argument("config", metavar="CONFIG", help="pipeline config (YAML)")
    p.set_defaults(func=cmd_config_check)
    p = command(csub, "schema", "print the config's JSON Schema (for editors: configs/auditpipe.schema.json)")
    p.set_defaults(func=cmd_config_schema)

    register_generate(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    guard_standard_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except policy_mod.PolicyError as exc:
        for issue in exc.issues:
            err(f"error: {issue.render(exc.filename)}")
        return EXIT_USAGE
    except ConfigError as exc:
        for line in str(exc).splitlines():
            err(f"error: {line}")
        return EXIT_USAGE
    except StartupError as exc:
        err(f"auditpipe: {exc}")
        return EXIT_UNREACHABLE if exc.retriable else EXIT_USAGE
    except PipelineError as exc:
        err(f"auditpipe: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        err("auditpipe: interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
