"""``policy check`` and ``policy explain``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import TextIO

from _fastmatch import Matcher

from .. import policy as policy_mod
from ..config import DEFAULT_MAX_RECORD_BYTES
from ..decode import decode_record
from ..errors import Rejection
from ..events import AnyEvent
from ..explain import describe_request, why
from ..levels import LEVEL_NONE, NO_RULE, OMITTED_STAGE, RECORDED_NONE, decide
from ..model import LEVEL_RANK, LEVELS
from ..sources.lines import InputError, TooLarge, display_name, iter_lines
from .common import EXIT_OK, EXIT_REJECTED, EXIT_USAGE, err, load_policy


def cmd_check(args: argparse.Namespace) -> int:
    try:
        loaded = policy_mod.load(args.policy, lenient=args.lenient)
    except policy_mod.PolicyError as exc:
        for issue in exc.issues:
            err(f"error: {issue.render(args.policy)}")
        err(f"{args.policy}: {len(exc.issues)} error(s)")
        return EXIT_USAGE
    for issue in loaded.warnings:
        err(f"warning: {issue.render(args.policy)} (dropped, as kube-apiserver would)")
    rules = len(loaded.policy.rules)
    print(
        f"{args.policy}: ok ({rules} rule{'s' if rules != 1 else ''}{', lenient' if args.lenient else ''})", flush=True
    )
    return EXIT_OK


def _read_events(path: str) -> Iterator[tuple[str, AnyEvent | str]]:
    name = display_name(path)
    for number, line in iter_lines(path, DEFAULT_MAX_RECORD_BYTES):
        if line is None:
            continue
        source = f"{name}:{number}"
        if isinstance(line, TooLarge):
            yield source, f"too_large: line is over the limit of {line.limit} bytes"
            continue
        events: list[AnyEvent] = []
        errors: list[Rejection] = []
        decode_record(line, source, events, errors)
        for event in events:
            yield source, event
        for error in errors:
            yield source, error.describe()


_RESULTS = {
    LEVEL_NONE: "dropped (level None)",
    RECORDED_NONE: "dropped (recorded at level None: there is nothing to keep)",
    OMITTED_STAGE: "dropped (stage {stage} omitted)",
}


def _explain_events(
    args: argparse.Namespace, loaded: policy_mod.LoadedPolicy, intended: Matcher | None, out: TextIO
) -> tuple[list[int], list[int], int]:
    rules = loaded.policy.rules
    compiled = loaded.compiled_rules()
    matcher = Matcher(loaded.matcher_rules())
    matched_per_rule = [0] * len(rules)
    intended_per_rule = [0] * len(rules)
    rejected = 0
    for source, item in _read_events(args.events):
        if isinstance(item, str):
            rejected += 1
            print(f"{source}: rejected: {item}", file=out)
            continue
        req = item.request
        index = matcher.first(req)
        head = f"{source}: {item.stage} {describe_request(req)} (recorded at {item.level})"
        if index == -1:
            print(f"{head}\n  no rule matched -> level None (default): dropped", file=out)
            continue
        matched_per_rule[index] += 1
        if intended is not None:
            hit = intended.first(req)
            if 0 <= hit < len(rules):
                intended_per_rule[hit] += 1
        rule = compiled[index]
        rank, reason = decide(rule.rank, rule.omit_stages, LEVEL_RANK[item.level], item.stage)
        result = _RESULTS[reason].format(stage=item.stage) if reason else f"kept at {LEVELS[rank]}"
        assert reason != NO_RULE
        print(
            f"{head}\n  rule {index} (level {rule.level}): " + "; ".join(why(rules[index], req)) + f"\n  -> {result}",
            file=out,
        )
    return matched_per_rule, intended_per_rule, rejected


def cmd_explain(args: argparse.Namespace) -> int:
    loaded = load_policy(args.policy, args.lenient)
    intended: Matcher | None = None
    intended_error = ""
    if loaded.warnings:
        try:
            fixed = policy_mod.loads_as_intended(policy_mod.read_text(args.policy), source=args.policy)
            intended = Matcher(fixed.matcher_rules())
        except policy_mod.PolicyError as exc:
            intended_error = str(exc)
    out = sys.stdout
    try:
        matched, as_intended, rejected = _explain_events(args, loaded, intended, out)
    except InputError as exc:
        err(f"auditpipe: {exc}")
        return EXIT_REJECTED
    if loaded.warnings:
        print("\nlenient load: these fields were dropped, widening their rules:", file=out)
        for issue in loaded.warnings:
            print(f"  {issue.render(args.policy)}", file=out)
        if intended is None:
            print(f"  (with the suggested fixes the policy does not load: {intended_error})", file=out)
        else:
            print("  events matched per rule, as loaded vs. with the suggested fixes applied:", file=out)
            for i in range(len(matched)):
                print(f"    rule {i}: {matched[i]} as loaded, {as_intended[i]} as intended", file=out)
    out.flush()
    return EXIT_REJECTED if rejected else EXIT_OK
