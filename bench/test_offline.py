"""bench/offline.py on a few hundred events, so the whole-process benchmark cannot rot.

No timings are checked (the machine may be busy); what is checked is that every row ran, wrote what
it should, and that auditpipe, naive and gofilter kept the same events. The Go row is there when
``go`` is on PATH (CI has it; the first build downloads the module, later ones hit Go's caches).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.offline import ROOT, compare, table

EVENTS = 200


@pytest.mark.skipif(
    importlib.util.find_spec("_fastmatch._matcher_c") is None, reason="the compiled matcher is not built"
)
def test_offline_runs_every_row_and_the_filters_agree(tmp_path: Path) -> None:
    out = tmp_path / "offline.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.offline", "--events", str(EVENTS), "--repeats", "1", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["agree"], results["problems"]
    assert results["events"] == EVENTS and results["input_bytes"] > 0

    rows = {r["name"]: r for r in results["rows"]}
    expected = ["cat", "auditpipe", "auditpipe-py", "naive", "auditpipe-startup"]
    if shutil.which("go"):
        expected.insert(4, "gofilter")
    else:
        assert [s["name"] for s in results["skipped"]] == ["gofilter"]
    assert list(rows) == expected

    assert rows["cat"]["output_lines"] == EVENTS
    kept = {rows[name]["output_lines"] for name in expected if name not in ("cat", "auditpipe-startup")}
    assert len(kept) == 1, kept
    # volume-cut.yaml drops leases, health checks and core events, but keeps the rest.
    assert 0 < kept.pop() < EVENTS
    assert rows["auditpipe-startup"]["input_events"] == 1
    assert rows["auditpipe-startup"]["output_lines"] <= 1

    section = table(results)
    assert section[0].startswith("Whole process, offline (`make bench-table`)")
    assert any(line.startswith("| `auditpipe filter` (compiled matcher) |") for line in section)
    assert not any("MISMATCH" in line for line in section)
    assert done.stdout.strip() == "\n".join(section).strip()


def test_compare_reports_a_different_decision(tmp_path: Path) -> None:
    def write(name: str, events: list[tuple[str, str, str]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps({"auditID": a, "stage": s, "level": lv}) + "\n" for a, s, lv in events))
        return path

    same = [("a", "ResponseComplete", "Metadata"), ("b", "ResponseComplete", "Request")]
    reference = write("ref", same)
    assert compare({"ref": reference, "copy": write("copy", same)}) == []

    other_level = write("level", [same[0], ("b", "ResponseComplete", "Metadata")])
    shorter = write("short", same[:1])
    problems = compare({"ref": reference, "level": other_level, "short": shorter})
    assert len(problems) == 2
    assert problems[0].startswith("level kept 2 events, ref kept 2;") and "output line 2" in problems[0]
    assert problems[1].startswith("short kept 1 events, ref kept 2;") and "(end)" in problems[1]

    # A filter that died mid-line: reported, not a crash of the comparison.
    broken = tmp_path / "broken"
    broken.write_text(json.dumps({"auditID": "a", "stage": "ResponseComplete", "level": "Metadata"}) + '\n{"audit')
    (problem,) = compare({"ref": reference, "broken": broken})
    assert "(not an event)" in problem and "line 2" in problem
