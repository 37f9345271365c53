"""Turn the benchmark results into the README's Markdown table.

    python bench/table.py [bench/results/micro.json] [bench/results/e2e.json]

``make bench-table`` runs the benchmarks and then this. Each section comes from its own file in
bench/results (micro.json, compile.json, offline.json, e2e.json) and is left out when that file
is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def micro(path: Path) -> list[str]:
    data: dict[str, Any] = json.loads(path.read_text())
    info = data["machine_info"]
    by_name = {b["name"]: b["stats"] for b in data["benchmarks"]}

    def per_event(name: str) -> float:
        return float(by_name[name]["mean"]) / 1000 * 1e9  # ns per event (batches of 1,000)

    lines = [
        f"Micro-benchmarks, {data['datetime'][:10]}, {info['cpu'].get('brand_raw', info['machine'])}, "
        f"{info['cpu'].get('count', '?')} cores, Python {info['python_version']}, "
        "`make bench` (pytest-benchmark, mean of each round)",
        "",
        "| benchmark | Cython | pure Python | naive baseline | target |",
        "|---|---:|---:|---:|---|",
    ]
    for rules in (10, 100, 1000):
        c, py = per_event(f"match[c-{rules}]"), per_event(f"match[py-{rules}]")
        target = {10: "≤ 500 ns", 100: "", 1000: "≤ 1.5× the 10-rule time"}[rules]
        lines.append(f"| policy evaluation, {rules} rules, per event | {c:,.0f} ns | {py:,.0f} ns | | {target} |")
    lines += compile_rows(by_name)
    c = per_event("transform[auditpipe-c]")
    reference = per_event("transform[auditpipe-c-reference]")
    py = per_event("transform[auditpipe-py]")
    naive = per_event("transform[naive-json]")
    lines.append(
        f"| whole transform per event (1k batches, mixed corpus) | {c / 1000:,.2f} µs "
        f"({1e9 / c:,.0f} ev/s, {naive / c:.1f}× naive; reference path {reference / 1000:,.2f} µs) "
        f"| {py / 1000:,.2f} µs | {naive / 1000:,.2f} µs "
        f"({1e9 / naive:,.0f} ev/s) | ≥ 250,000 ev/s and ≥ 10× naive |"
    )
    ours, plain = per_event("decode[msgspec-raw-fields]"), per_event("decode[json.loads]")
    lines.append(
        f"| decoding per event | {ours / 1000:,.2f} µs (msgspec, Raw fields) | | "
        f"{plain / 1000:,.2f} µs (json.loads) | |"
    )
    return lines


def compile_rows(by_name: dict[str, Any], scaling: Path = RESULTS / "compile.json") -> list[str]:
    """Matcher compile time at 100,000 rules, with the peak RSS of ``bench/results/compile.json``."""
    peaks: dict[str, float] = {}
    if scaling.exists():
        peaks = {
            r["policy"]: r["peak_rss_mb"]
            for r in json.loads(scaling.read_text())
            if r.get("rules") == 100_000 and "peak_rss_mb" in r
        }
    lines = []
    for shape in ("realistic", "distinct", "same"):
        c, py = by_name.get(f"compile[c-{shape}-100000]"), by_name.get(f"compile[py-{shape}-100000]")
        if c is None or py is None:
            continue
        peak = f", peak RSS {peaks[shape]:,.0f} MB" if shape in peaks else ""
        target = "≤ 5 s and ≤ 300 MB peak RSS" if shape == "realistic" else "(adversarial)"
        lines.append(
            f"| matcher compile, 100,000 rules ({shape}) | {float(c['mean']):,.2f} s{peak} | "
            f"{float(py['mean']):,.2f} s (copies the rules) | | {target} |"
        )
    return lines


def compile_scaling(path: Path) -> list[str]:
    """``python -m bench.compile_scaling``'s rows on their own, for when micro.json has no compile rows."""
    lines = [
        "Matcher compile, each in a fresh process (`python -m bench.compile_scaling`, `make bench-table`)",
        "",
        "| policy | rules | matcher | compile | peak RSS | RSS before compile (rules loaded) | target |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for r in json.loads(path.read_text()):
        head = f"| {r['policy']} | {r['rules']:,} | {r.get('impl', 'c')} |"
        target = "≤ 5 s and ≤ 300 MB peak RSS" if r["policy"] == "realistic" and r["rules"] == 100_000 else ""
        if "timeout_s" in r:
            lines.append(f"{head} > {r['timeout_s']:.0f} s (stopped) | | | {target} |")
        elif "error" in r:
            lines.append(f"{head} error: {r['error']} | | | {target} |")
        else:
            rss = f"{r['peak_rss_mb']:,.0f} MB | {r['rss_before_mb']:,.0f} MB"
            lines.append(f"{head} {r['compile_s']:.2f} s | {rss} | {target} |")
    return lines


def offline(path: Path) -> list[str]:
    from bench.offline import table

    return table(json.loads(path.read_text()))


def e2e(path: Path) -> list[str]:
    from bench.e2e import table

    return ["`make bench-e2e`: " + table(json.loads(path.read_text()))]


def main() -> None:
    # Run as a script (bench/table.py), so the repository root is not on the path by itself.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    micro_path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "micro.json"
    e2e_path = Path(sys.argv[2]) if len(sys.argv) > 2 else RESULTS / "e2e.json"
    compile_path, offline_path = RESULTS / "compile.json", RESULTS / "offline.json"
    sections: list[list[str]] = []
    micro_lines = micro(micro_path) if micro_path.exists() else []
    if micro_lines:
        sections.append(micro_lines)
    # micro.json carries the compile rows (with compile.json's peak RSS) only when its run included them.
    if compile_path.exists() and not any("matcher compile" in line for line in micro_lines):
        sections.append(compile_scaling(compile_path))
    if offline_path.exists():
        sections.append(offline(offline_path))
    if e2e_path.exists():
        sections.append(e2e(e2e_path))
    if not sections:
        sys.exit(f"no results in {RESULTS}: run `make bench-table`")
    print("\n\n".join("\n".join(lines) for lines in sections))


if __name__ == "__main__":
    main()
