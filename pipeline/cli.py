"""The ``auditpipe`` command line.

Exit codes: 0 ok; 1 some input records were rejected; 2 usage or config error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import msgspec

from _fastmatch import USING_EXTENSION, Matcher

from . import config as config_mod
from . import files
from . import policy as policy_mod
from .errors import ConfigError
from .events import Event, decode_record
from .explain import describe_request, why
from .process import NO_RULE, Processor, Stats

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
BATCH_RECORDS = 1000
PROGRESS_MIN_BYTES = 16 * 1024 * 1024


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def load_policy(path: str | None, lenient: bool) -> policy_mod.LoadedPolicy:
    """The policy at ``path``, or the bundled default; warnings go to stderr."""
    if path is None:
        loaded = policy_mod.loads(files.default_policy_text(), source="<bundled default policy>")
    else:
        loaded = policy_mod.load(path, lenient=lenient)
    for issue in loaded.warnings:
        _err(f"warning: {issue.render(loaded.source)} (ignored, as kube-apiserver would)")
    return loaded


def _batches(paths: Sequence[str], progress: Any) -> Iterator[tuple[list[bytes], list[str]]]:
    values: list[bytes] = []
    sources: list[str] = []
    for path in paths:
        name = files.display_name(path)
        for number, line in files.iter_lines(path):
            values.append(line)
            sources.append(f"{name}:{number}")
            if progress is not None:
                progress.update(len(line) + 1)
            if len(values) >= BATCH_RECORDS:
                yield values, sources
                values, sources = [], []
    if values:
        yield values, sources


def _progress(paths: Sequence[str]) -> Any:
    size = files.total_size(list(paths))
    if not sys.stderr.isatty() or size < PROGRESS_MIN_BYTES:
        return None
    from tqdm import tqdm

    return tqdm(total=size, unit="B", unit_scale=True, file=sys.stderr, desc="auditpipe")


def print_summary(stats: Stats, seconds: float, out: IO[str]) -> None:
    rate = stats.events_in / seconds if seconds > 0 else 0.0
    print("summary:", file=out)
    print(f"  records in:  {stats.records_in}", file=out)
    print(f"  events in:   {stats.events_in}", file=out)
    print(f"  events out:  {stats.events_out}", file=out)
    print(f"  dropped:     {stats.dropped}", file=out)
    for rule, count in sorted(stats.dropped_by_rule.items()):
        label = "no rule matched (default None)" if rule == NO_RULE else f"rule {rule} (level None)"
        print(f"    {label}: {count}", file=out)
    for rule, count in sorted(stats.dropped_by_stage.items()):
        print(f"    rule {rule} (omitted stage): {count}", file=out)
    print("  out by level:", file=out)
    for level in ("Metadata", "Request", "RequestResponse"):
        print(f"    {level}: {stats.out_by_level.get(level, 0)}", file=out)
    if stats.out_by_output:
        print("  out by output:", file=out)
        for name, count in sorted(stats.out_by_output.items()):
            print(f"    {name}: {count}", file=out)
    print(f"  rejected:    {stats.rejected}", file=out)
    for reason, count in sorted(stats.rejected_by_reason.items()):
        print(f"    {reason}: {count}", file=out)
    print(f"  elapsed:     {seconds:.3f} s ({rate:,.0f} events/s, matcher: "
          f"{'compiled' if USING_EXTENSION else 'pure Python'})", file=out)


def run_offline(processor: Processor, paths: Sequence[str], *, to_stdout_only: bool,
                show_stats: bool, rejects_path: str | None = None) -> int:
    """Process files; write kept events to stdout (filter) or to each output's path (run).

    Rejected records are reported on stderr with file:line; with ``rejects_path``
    their original bytes are also written there, one per line, to fix and replay.
    """
    stats = Stats()
    started = time.perf_counter()
    progress = _progress(paths)
    stdout = sys.stdout.buffer
    with ExitStack() as stack:
        rejects = stack.enter_context(open(rejects_path, "wb")) if rejects_path else None
        sinks: dict[str, IO[bytes]] = {}
        if not to_stdout_only:
            for out in list(processor.config.outputs) + [processor.config.default_output]:
                if out.path in (None, "-"):
                    sinks[out.name] = stdout
                else:
                    sinks[out.name] = stack.enter_context(open(out.path, "ab"))
        try:
            for values, sources in _batches(paths, progress):
                batch = processor.process(values, sources)
                stats.add(batch.stats)
                for _, error in batch.dead_letters:
                    _err(f"error: {error.describe()}")
                    if rejects is not None:
                        rejects.write(error.raw + b"\n")
                if to_stdout_only:
                    stdout.write(b"".join(r.value + b"\n" for r in batch.events))
                else:
                    written: set[int] = set()
                    for name, records in batch.outputs.items():
                        sink = sinks[name]
                        for r in records:
                            # An event routed to several outputs that share stdout is written once.
                            if sink is stdout:
                                if id(r) in written:
                                    continue
                                written.add(id(r))
                            sink.write(r.value + b"\n")
        except FileNotFoundError as exc:
            _err(f"auditpipe: cannot read {exc.filename}: {exc.strerror}")
            return EXIT_USAGE
        except BrokenPipeError:
            return EXIT_OK
        finally:
            if progress is not None:
                progress.close()
        stdout.flush()
    if show_stats:
        print_summary(stats, time.perf_counter() - started, sys.stderr)
    return EXIT_REJECTED if stats.rejected else EXIT_OK


def _config(path: str | None) -> config_mod.Config:
    return config_mod.Config() if path is None else config_mod.load(path)


def cmd_filter(args: argparse.Namespace) -> int:
    config = _config(args.config)
    loaded = load_policy(args.policy, args.lenient)
    processor = Processor(loaded, config)
    return run_offline(processor, args.files or ["-"], to_stdout_only=True, show_stats=args.stats,
                       rejects_path=args.rejects)


def cmd_run(args: argparse.Namespace) -> int:
    config = _config(args.config)
    loaded = load_policy(config.policy, config.policy_lenient)
    if config.kafka is not None:
        from .service import run_service

        return run_service(config, loaded, workers=args.workers)
    processor = Processor(loaded, config)
    paths = list(config.input_paths) or [files.SAMPLE_NAME]
    return run_offline(processor, paths, to_stdout_only=False, show_stats=True)


def cmd_policy_check(args: argparse.Namespace) -> int:
    try:
        loaded = policy_mod.load(args.policy, lenient=args.lenient)
    except policy_mod.PolicyError as exc:
        for issue in exc.issues:
            _err(f"error: {issue.render(args.policy)}")
        _err(f"{args.policy}: {len(exc.issues)} error(s)")
        return EXIT_USAGE
    for issue in loaded.warnings:
        _err(f"warning: {issue.render(args.policy)} (dropped, as kube-apiserver would)")
    rules = len(loaded.policy.rules)
    print(f"{args.policy}: ok ({rules} rule{'s' if rules != 1 else ''}"
          f"{', lenient' if args.lenient else ''})")
    return EXIT_OK


def _read_events(path: str) -> Iterator[tuple[str, Event | str]]:
    for number, line in files.iter_lines(path):
        source = f"{files.display_name(path)}:{number}"
        events: list[Event] = []
        errors: list[Any] = []
        decode_record(line, source, events, errors)
        for event in events:
            yield source, event
        for error in errors:
            yield source, error.describe()


def cmd_policy_explain(args: argparse.Namespace) -> int:
    loaded = load_policy(args.policy, args.lenient)
    rules = loaded.policy.rules
    compiled = loaded.compiled_rules()
    matcher = Matcher(loaded.matcher_rules())
    intended: Any = None
    intended_error = ""
    if loaded.warnings:
        fixed = policy_mod.with_suggestions_applied(Path(args.policy).read_text(encoding="utf-8"))
        try:
            intended_policy = policy_mod.from_mapping(fixed or {}, source=args.policy)
            intended = Matcher(intended_policy.matcher_rules())
        except policy_mod.PolicyError as exc:
            intended_error = str(exc)
    matched_per_rule = [0] * len(rules)
    intended_per_rule = [0] * len(rules)
    rejected = 0
    out = sys.stdout
    for source, item in _read_events(args.events):
        if isinstance(item, str):
            rejected += 1
            print(f"{source}: rejected: {item}", file=out)
            continue
        req = item.request
        index = matcher.first(req)
        head = f"{source}: {item.stage} {describe_request(req)} (recorded at {item.level})"
        if index == NO_RULE:
            print(f"{head}\n  no rule matched -> level None (default): dropped", file=out)
            continue
        matched_per_rule[index] += 1
        if intended is not None:
            hit = intended.first(req)
            if hit != NO_RULE and hit < len(rules):
                intended_per_rule[hit] += 1
        rule = compiled[index]
        if rule.level == "None":
            result = "dropped (level None)"
        elif item.stage in rule.omit_stages:
            result = f"dropped (stage {item.stage} omitted)"
        else:
            applied = policy_mod.LEVELS[min(policy_mod.LEVEL_RANK[rule.level], policy_mod.LEVEL_RANK[item.level])]
            result = f"kept at {applied}"
        print(f"{head}\n  rule {index} (level {rule.level}): " + "; ".join(why(rules[index], req))
              + f"\n  -> {result}", file=out)
    if loaded.warnings:
        print("\nlenient load: these fields were dropped, widening their rules:", file=out)
        for issue in loaded.warnings:
            print(f"  {issue.render(args.policy)}", file=out)
        if intended is None:
            print(f"  (with the suggested fixes the policy does not load: {intended_error})", file=out)
        else:
            print("  events matched per rule, as loaded vs. with the suggested fixes applied:", file=out)
            for i in range(len(rules)):
                print(f"    rule {i}: {matched_per_rule[i]} as loaded, {intended_per_rule[i]} as intended", file=out)
    return EXIT_REJECTED if rejected else EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    config = config_mod.load(args.config)
    load_policy(config.policy, config.policy_lenient)
    print(f"{args.config}: ok")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="auditpipe", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("filter", help="apply a policy to audit events in files (or stdin), write JSON lines")
    p.add_argument("--policy", required=True, help="audit.k8s.io/v1 Policy file (YAML or JSON)")
    p.add_argument("--config", help="pipeline config (enrichment, limits)")
    p.add_argument("--lenient", action="store_true", help="drop unknown policy fields as kube-apiserver does")
    p.add_argument("--stats", action="store_true", help="print a summary to stderr")
    p.add_argument("--rejects", metavar="FILE", help="also write rejected records, unchanged, to FILE")
    p.add_argument("files", nargs="*", help="input files (.gz too); none or - for stdin")
    p.set_defaults(func=cmd_filter)

    p = sub.add_parser("run", help="the service; with no config, the bundled sample through the bundled policy")
    p.add_argument("--config", help="pipeline config")
    p.add_argument("--workers", type=int, default=1, help="processes in one consumer group (Kafka only)")
    p.set_defaults(func=cmd_run)

    pol = sub.add_parser("policy", help="check or explain an audit policy")
    psub = pol.add_subparsers(dest="policy_command", required=True)
    p = psub.add_parser("check", help="validate a policy; unknown fields are errors unless --lenient")
    p.add_argument("policy")
    p.add_argument("--lenient", action="store_true")
    p.set_defaults(func=cmd_policy_check)
    p = psub.add_parser("explain", help="for each event, which rule matched, why, and the resulting level")
    p.add_argument("policy")
    p.add_argument("events")
    p.add_argument("--lenient", action="store_true")
    p.set_defaults(func=cmd_policy_explain)

    cfg = sub.add_parser("config", help="check a pipeline config")
    csub = cfg.add_subparsers(dest="config_command", required=True)
    p = csub.add_parser("check", help="load a config and its policy; no I/O beyond reading them")
    p.add_argument("config")
    p.set_defaults(func=cmd_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except policy_mod.PolicyError as exc:
        for issue in exc.issues:
            _err(f"error: {issue.render(exc.filename)}")
        return EXIT_USAGE
    except ConfigError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except msgspec.ValidationError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        _err(f"auditpipe: {exc.filename or ''}: {exc.strerror}")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
