"""Whole-process filters over one file, with their baselines in the same run.

    python -m bench.offline [--events 50000] [--seed 0] [--repeats 3] [--json bench/results/offline.json]

Generates N busy-cluster events once (``pipeline.generate``, seeded) into a JSON-lines file in a
temporary directory, then runs each of these as its own process over that file, with
``configs/policies/volume-cut.yaml``, writing to a file in the same directory (so the output's cost
counts):

- ``cat``: read and write the bytes, no decoding: the floor;
- ``auditpipe filter``: the compiled matcher, and the same with ``AUDITPIPE_NO_EXTENSIONS=1``
  (the pure-Python twin);
- ``python -m bench.naive``: json module, dicts, a Python loop over the rules;
- ``gofilter``: kube-apiserver's own packages (``bench/gofilter``), built with ``go build`` into
  ``~/.cache/auditpipe/gofilter``; left out, with the reason, when ``go`` is not on PATH;
- ``auditpipe filter`` over one event: the start-up cost alone.

The runs go round-robin (one of each, then again), so a burst of load from other jobs on the machine
spreads over all rows. Each row reports the best of the repeats (wall time), its CPU time, events/s,
µs per event, peak RSS (VmHWM, sampled every 5 ms, so a process shorter than that shows less than its
peak) and the output's line count. The kept events of auditpipe (both twins), naive
and gofilter are compared by (auditID, stage, level) in output order; any difference is printed and
recorded, and the exit code is then 1.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "configs" / "policies" / "volume-cut.yaml"
GOFILTER_SRC = ROOT / "bench" / "gofilter"
# The filters whose outputs must hold the same events; the first is the reference.
KEPT_ROWS = ("auditpipe", "auditpipe-py", "naive", "gofilter")
POLL_MS = 5


@dataclass(frozen=True)
class Candidate:
    name: str
    label: str
    argv: list[str]
    env: dict[str, str]
    input_events: int


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    peak_rss_kb: int
    returncode: int
    stderr: str


@dataclass
class Row:
    candidate: Candidate
    samples: list[Sample] = field(default_factory=list)
    output_lines: set[int] = field(default_factory=set)
    output_bytes: int = 0


def write_corpus(path: Path, events: int, seed: int) -> int:
    """Stream ``events`` generated lines to ``path`` (one per line); return the bytes written."""
    from pipeline.generate import iter_events

    size = 0
    with path.open("wb") as f:
        for line in itertools.islice(iter_events(seed), events):
            f.write(line + b"\n")
            size += len(line) + 1
    return size


def build_gofilter() -> tuple[Path | None, str]:
    """Build bench/gofilter into the user's cache; ``(None, why)`` when it cannot be built."""
    go = shutil.which("go")
    if go is None:
        return None, "`go` is not on PATH"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "auditpipe" / "gofilter"
    cache.mkdir(parents=True, exist_ok=True)
    binary = cache / "gofilter"
    # Built every run: Go's build cache makes an unchanged build take about a second, and the binary
    # then always matches the source in this checkout.
    done = subprocess.run(
        [go, "build", "-o", str(binary), "."], cwd=GOFILTER_SRC, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None, "go build failed: " + " / ".join(done.stderr.strip().splitlines()[-3:])
    return binary, ""


def _auditpipe() -> list[str]:
    # The console script of this interpreter's environment, as a user runs it.
    script = Path(sys.executable).with_name("auditpipe")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline"]


def _uses_extension(env: dict[str, str]) -> bool:
    probe = "import _fastmatch; print(_fastmatch.USING_EXTENSION)"
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def _vm_hwm_kb(pid: int) -> int:
    # VmHWM is the peak RSS of the program the child exec'd. (ru_maxrss from wait4 would also count
    # this parent's pages, which the child's mm held between fork and exec.)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0  # already exited: its memory is gone


def measure(argv: list[str], env: dict[str, str], stdout_path: Path) -> Sample:
    """Run ``argv`` once with stdout to ``stdout_path``; wall and CPU time, peak RSS, exit code."""
    with stdout_path.open("wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=ROOT)
        pidfd = os.pidfd_open(proc.pid)
        try:
            # A pidfd turns readable at exit, so the wall time is exact while VmHWM is sampled.
            poller = select.poll()
            poller.register(pidfd, select.POLLIN)
            # No sample at once: just after exec, VmHWM is the loader's, not the program's.
            peak = 0
            while not poller.poll(POLL_MS):
                peak = max(peak, _vm_hwm_kb(proc.pid))
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            os.close(pidfd)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak, proc.returncode, stderr)


def count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def decisions(path: Path) -> list[tuple[str, str, str]]:
    """(auditID, stage, level) of every output line, in order."""
    out = []
    with path.open("rb") as f:
        for number, line in enumerate(f, 1):
            try:
                event = json.loads(line)
                out.append((event.get("auditID", ""), event.get("stage", ""), event.get("level", "")))
            except (ValueError, AttributeError):  # a filter that died mid-line, or wrote something else
                out.append(("(not an event)", f"line {number}", line[:60].decode(errors="replace")))
    return out


def compare(outputs: dict[str, Path]) -> list[str]:
    """Differences between the kept events of each filter and the first one's."""
    names = list(outputs)
    reference = decisions(outputs[names[0]])
    problems = []
    for name in names[1:]:
        other = decisions(outputs[name])
        if other == reference:
            continue
        differ = [i for i, (a, b) in enumerate(zip(reference, other)) if a != b]
        first = differ[0] if differ else min(len(reference), len(other))
        show = (
            f"{reference[first] if first < len(reference) else '(end)'} vs "
            f"{other[first] if first < len(other) else '(end)'}"
        )
        problems.append(
            f"{name} kept {len(other):,} events, {names[0]} kept {len(reference):,}; "
            f"{len(differ):,} of the common positions differ; first at output line {first + 1}: {show}"
        )
    return problems


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "system": platform.system()}


def candidates(corpus: Path, one: Path, events: int, gofilter: Path | None) -> list[Candidate]:
    env = {k: v for k, v in os.environ.items() if k != "AUDITPIPE_NO_EXTENSIONS"}
    pure = {**env, "AUDITPIPE_NO_EXTENSIONS": "1"}
    policy = str(POLICY)
    auditpipe = [*_auditpipe(), "filter", "--policy", policy]
    rows = [
        Candidate("cat", "`cat` (pass-through, no decoding)", ["cat", str(corpus)], env, events),
        Candidate("auditpipe", "`auditpipe filter` (compiled matcher)", [*auditpipe, str(corpus)], env, events),
        Candidate(
            "auditpipe-py", "`auditpipe filter`, `AUDITPIPE_NO_EXTENSIONS=1`", [*auditpipe, str(corpus)], pure, events
        ),
        Candidate(
            "naive",
            "naive Python filter (`python -m bench.naive`)",
            [sys.executable, "-m", "bench.naive", "--policy", policy, str(corpus)],
            env,
            events,
        ),
    ]
    if gofilter is not None:
        rows.append(
            Candidate(
                "gofilter",
                "Go filter on kube's packages (`gofilter`)",
                [str(gofilter), "--policy", policy, str(corpus)],
                env,
                events,
            )
        )
    rows.append(
        Candidate("auditpipe-startup", "`auditpipe filter`, 1 event (start-up)", [*auditpipe, str(one)], env, 1)
    )
    return rows


def run(events: int, seed: int, repeats: int, log: TextIO = sys.stderr) -> dict[str, Any]:
    """Generate the corpus, run every row ``repeats`` times, compare the outputs; the results as JSON data."""
    gofilter, go_note = build_gofilter()
    skipped = [] if gofilter else [{"name": "gofilter", "reason": go_note}]
    with tempfile.TemporaryDirectory(prefix="auditpipe-offline-") as tmp:
        work = Path(tmp)
        corpus, one = work / "corpus.jsonl", work / "one.jsonl"
        input_bytes = write_corpus(corpus, events, seed)
        with corpus.open("rb") as f:
            one.write_bytes(f.readline())
        rows = [Row(c) for c in candidates(corpus, one, events, gofilter)]
        ext = {
            r.candidate.name: _uses_extension(r.candidate.env) for r in rows if r.candidate.name.startswith("auditpipe")
        }
        problems = []
        if not ext["auditpipe"] or ext["auditpipe-py"]:
            problems.append(f"matcher twins not as labelled (USING_EXTENSION per row: {ext})")
        load_before = os.getloadavg()
        for attempt in range(repeats):
            for row in rows:
                sample = measure(row.candidate.argv, row.candidate.env, work / f"{row.candidate.name}.out")
                row.samples.append(sample)
                out = work / f"{row.candidate.name}.out"
                row.output_lines.add(count_lines(out))
                row.output_bytes = out.stat().st_size
                print(
                    f"[{attempt + 1}/{repeats}] {row.candidate.name}: {sample.wall_s:.3f} s, exit {sample.returncode}",
                    file=log,
                    flush=True,
                )
                if sample.returncode != 0:
                    problems.append(f"{row.candidate.name} exited {sample.returncode}: {sample.stderr.strip()[-300:]}")
        load_after = os.getloadavg()
        for row in rows:
            if len(row.output_lines) > 1:
                problems.append(f"{row.candidate.name} wrote different line counts across repeats: {row.output_lines}")
        present = {n: work / f"{n}.out" for n in KEPT_ROWS if any(r.candidate.name == n for r in rows)}
        problems += compare(present)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": machine(),
        "load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "events": events,
        "seed": seed,
        "input_bytes": input_bytes,
        "mean_event_bytes": round(input_bytes / events, 1) if events else 0,
        "policy": str(POLICY.relative_to(ROOT)),
        "repeats": repeats,
        "rows": [_summary(r) for r in rows],
        "skipped": skipped,
        "agree": not problems,
        "problems": problems,
    }


def _summary(row: Row) -> dict[str, Any]:
    best = min(row.samples, key=lambda s: s.wall_s)
    n = row.candidate.input_events
    return {
        "name": row.candidate.name,
        "label": row.candidate.label,
        "command": " ".join(Path(a).name if "/" in a else a for a in row.candidate.argv),
        "input_events": n,
        "wall_s": round(best.wall_s, 4),
        "cpu_s": round(best.cpu_s, 4),
        # None: the process ended before the first sample (a few milliseconds).
        "peak_rss_mb": round(best.peak_rss_kb / 1024, 1) if best.peak_rss_kb else None,
        "events_per_s": round(n / best.wall_s, 1),
        "us_per_event": round(best.wall_s / n * 1e6, 2),
        "events_per_cpu_s": round(n / best.cpu_s, 1) if best.cpu_s else None,
        "all_wall_s": [round(s.wall_s, 4) for s in row.samples],
        "output_lines": max(row.output_lines),
        "output_bytes": row.output_bytes,
    }


def table(results: dict[str, Any]) -> list[str]:
    """The Markdown section for bench/results/TABLE.md (bench/table.py prints it too)."""
    m = results["machine"]
    rows = {r["name"]: r for r in results["rows"]}
    lines = [
        "Whole process, offline (`make bench-table`): "
        f"{results['date']}, {m['cpu']}, {m['cores']} cores, Python {m['python']}; "
        f"{results['events']:,} generated events (seed {results['seed']}, mean {results['mean_event_bytes']:,.0f} B, "
        f"{results['input_bytes'] / 1e6:,.0f} MB), `{results['policy']}`, one file in, one file out, "
        f"best of {results['repeats']} (run round-robin; 1-min load average {results['load_average_1m'][0]} "
        f"before, {results['load_average_1m'][1]} after)",
        "",
        "| pipeline | wall | events/s | µs/event | CPU | events per CPU-s | peak RSS | lines out "
        "| vs naive | vs Go | vs cat |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def ratio(row: dict[str, Any], base: str) -> str:
        other = rows.get(base)
        if other is None or row["name"] == base or row["input_events"] != other["input_events"]:
            return ""
        x = row["events_per_s"] / other["events_per_s"]
        return f"{x:.2f}×" if x < 10 else f"{x:.1f}×"

    for r in results["rows"]:
        rss = (
            "(not sampled)"
            if r["peak_rss_mb"] is None
            else f"{r['peak_rss_mb']:.{0 if r['peak_rss_mb'] >= 10 else 1}f} MB"
        )
        if r["input_events"] > 1:
            rates = f"{r['events_per_s']:,.0f} | {r['us_per_event']:,.2f}"
            per_cpu = f"{r['events_per_cpu_s']:,.0f}" if r["events_per_cpu_s"] else ""
        else:  # the start-up row: a rate over one event means nothing
            rates, per_cpu = " | ", ""
        lines.append(
            f"| {r['label']} | {r['wall_s']:.3f} s | {rates} | {r['cpu_s']:.2f} s | {per_cpu} | {rss} "
            f"| {r['output_lines']:,} | {ratio(r, 'naive')} | {ratio(r, 'gofilter')} | {ratio(r, 'cat')} |"
        )
    lines += ["", "Ratios are events/s of the row over events/s of the baseline: above 1× is faster."]
    full, start = rows.get("auditpipe"), rows.get("auditpipe-startup")
    # Below twice the start-up, the difference is mostly noise.
    if full and start and full["wall_s"] > 2 * start["wall_s"]:
        net = (full["wall_s"] - start["wall_s"]) / full["input_events"] * 1e6
        lines.append(
            f"`auditpipe filter` net of its start-up: {net:,.2f} µs/event "
            f"(({full['wall_s']:.3f} s − {start['wall_s']:.3f} s) / {full['input_events']:,})."
        )
    for skip in results["skipped"]:
        lines.append(f"Not measured: {skip['name']} ({skip['reason']}).")
    if results["agree"]:
        kept = [n for n in KEPT_ROWS if n in rows]
        lines.append(f"The kept events agree (auditID, stage, level, in order) across {', '.join(kept)}.")
    else:
        lines += ["", "**MISMATCH**:", *(f"- {p}" for p in results["problems"])]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeats < 1:
        parser.error("--events and --repeats must be at least 1")
    results = run(args.events, args.seed, args.repeats)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    print("\n".join(table(results)))
    if not results["agree"]:
        print("\nMISMATCH between the filters (see above)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
