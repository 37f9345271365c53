"""Turn the benchmark results into the README's Markdown table.

    python bench/table.py [bench/results/micro.json] [bench/results/e2e.json]

``make bench-table`` runs both benchmarks and then this.
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

    lines = [f"Micro-benchmarks, {data['datetime'][:10]}, {info['cpu'].get('brand_raw', info['machine'])}, "
             f"{info['cpu'].get('count', '?')} cores, Python {info['python_version']}, "
             "`make bench` (pytest-benchmark, mean of each round)", "",
             "| benchmark | Cython | pure Python | naive baseline | target |", "|---|---:|---:|---:|---|"]
    for rules in (10, 100, 1000):
        c, py = per_event(f"match[c-{rules}]"), per_event(f"match[py-{rules}]")
        target = {10: "≤ 500 ns", 100: "", 1000: "≤ 1.5× the 10-rule time"}[rules]
        lines.append(f"| policy evaluation, {rules} rules, per event | {c:,.0f} ns | {py:,.0f} ns | | {target} |")
    c = per_event("transform[auditpipe-c]")
    py = per_event("transform[auditpipe-py]")
    naive = per_event("transform[naive-json]")
    lines.append(f"| whole transform per event (1k batches, mixed corpus) | {c / 1000:,.2f} µs "
                 f"({1e9 / c:,.0f} ev/s, {naive / c:.1f}× naive) | {py / 1000:,.2f} µs | {naive / 1000:,.2f} µs "
                 f"({1e9 / naive:,.0f} ev/s) | ≥ 250,000 ev/s and ≥ 10× naive |")
    ours, plain = per_event("decode[msgspec-raw-fields]"), per_event("decode[json.loads]")
    lines.append(f"| decoding per event | {ours / 1000:,.2f} µs (msgspec, Raw fields) | | "
                 f"{plain / 1000:,.2f} µs (json.loads) | |")
    return lines


def e2e(path: Path) -> list[str]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.e2e import table

    return ["", "`make bench-e2e`: " + table(json.loads(path.read_text()))]


def main() -> None:
    micro_path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "micro.json"
    e2e_path = Path(sys.argv[2]) if len(sys.argv) > 2 else RESULTS / "e2e.json"
    lines = micro(micro_path)
    if e2e_path.exists():
        lines += e2e(e2e_path)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
