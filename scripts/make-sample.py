#!/usr/bin/env python3
"""Rebuild pipeline/data/sample-events.jsonl, the sample the CLI runs by default.

The sample is, in this order:

1. real audit events from ``tests/data/real-audit`` (Apache-2.0 and MIT files only), byte for byte:
   all of audit2rbac-demo-v1.jsonl, falco-k8s-audit-trace-files.jsonl and crowdsec-hub-k8s-audit.jsonl,
   then the first 300 lines of audit2rbac-demo-v1beta1.jsonl;
2. ``pipeline.generate.make_events(..., seed=1)`` to fill up to 2,000 lines.

Every line must be a complete event (level, auditID, stage, requestURI, verb, user, with valid level and
stage values); lines that are not are dropped and counted. The output is deterministic, so ``--check``
can tell whether the committed file is current. Where each part comes from: pipeline/data/SOURCES.md.

Usage: scripts/make-sample.py [--real-audit DIR] [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.generate import make_events  # noqa: E402

OUTPUT = ROOT / "pipeline" / "data" / "sample-events.jsonl"
TOTAL = 2_000
MAX_GENERATED_BYTES = 64 * 1024
SEED = 1
# (file under tests/data/real-audit, how many lines to take; None = all). Never the elastic file (Elastic
# License 2.0), nor the panther (partial, hand-written) or malformed fixtures.
REAL = (
    ("audit2rbac-demo-v1.jsonl", None),
    ("falco-k8s-audit-trace-files.jsonl", None),
    ("crowdsec-hub-k8s-audit.jsonl", None),
    ("audit2rbac-demo-v1beta1.jsonl", 300),
)
LEVELS = {"None", "Metadata", "Request", "RequestResponse"}
STAGES = {"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"}


def problem(line: bytes) -> str | None:
    """Why ``line`` is not a complete audit event, or None if it is one."""
    try:
        event = json.loads(line)
    except ValueError as exc:
        return f"not JSON: {exc}"
    if not isinstance(event, dict):
        return "not a JSON object"
    for key in ("auditID", "requestURI", "verb"):
        if not isinstance(event.get(key), str) or not event[key]:
            return f"no {key}"
    if event.get("level") not in LEVELS:
        return f"bad level {event.get('level')!r}"
    if event.get("stage") not in STAGES:
        return f"bad stage {event.get('stage')!r}"
    if not isinstance(event.get("user"), dict):
        return "no user"
    return None


def real_lines(folder: Path, name: str, limit: int | None) -> list[bytes]:
    data = (folder / name).read_bytes()
    lines = [line for line in data.split(b"\n") if line.strip()]
    return lines[:limit] if limit is not None else lines


def build(folder: Path) -> tuple[bytes, list[tuple[str, int, int]]]:
    """The sample file's bytes, and (source, lines kept, lines dropped) per source."""
    kept: list[bytes] = []
    report: list[tuple[str, int, int]] = []
    for name, limit in REAL:
        lines = real_lines(folder, name, limit)
        good = [line for line in lines if problem(line) is None]
        for line in lines:
            if (why := problem(line)) is not None:
                print(f"dropping a line of {name}: {why}", file=sys.stderr)
        kept += good
        report.append((name if limit is None else f"{name} (first {limit})", len(good), len(lines) - len(good)))
    fill = TOTAL - len(kept)
    # The 200 KB+ tail stays in the benchmarks; the bundled sample keeps a small
    # package and a readable demo, so it takes generated events up to 64 KB.
    generated = [line for line in make_events(fill * 2, seed=SEED) if len(line) <= MAX_GENERATED_BYTES][:fill]
    good = [line for line in generated if problem(line) is None]
    kept += good
    report.append(
        (
            f"pipeline.generate.make_events({fill * 2}, seed={SEED}) (at most 64 KB each)",
            len(good),
            len(generated) - len(good),
        )
    )
    return b"".join(line + b"\n" for line in kept), report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_folder = ROOT / "tests" / "data" / "real-audit"
    parser.add_argument(
        "--real-audit",
        type=Path,
        default=default_folder,
        help=f"folder of real audit samples (default {default_folder.relative_to(ROOT)})",
    )
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if the file is not current")
    args = parser.parse_args()
    data, report = build(args.real_audit)
    for source, good, dropped in report:
        print(f"{good:6d} lines from {source} ({dropped} dropped as incomplete)")
    print(f"{sum(r[1] for r in report):6d} lines, {len(data):,} bytes")
    if args.check:
        current = OUTPUT.read_bytes() if OUTPUT.exists() else b""
        if current != data:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date: run scripts/make-sample.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is current")
        return 0
    OUTPUT.write_bytes(data)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
