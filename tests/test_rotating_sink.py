"""The rotating file sink: lumberjack's rotation by size, naming, pruning by count
and by the time in the name, gzip in the background without losing a line; its
output read back by the log source; lumberjack itself recognising its backups;
and a round trip kube-apiserver -> auditpipe -> rotated log -> auditpipe."""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import os
import re
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.config import Limits
from pipeline.config.outputs import Rotation
from pipeline.errors import ReasonCode
from pipeline.process import OutRecord
from pipeline.rotation import format_stamp
from pipeline.sinks.rotating import MEGABYTE, Mill, RotatingFileSink
from pipeline.sources.logtail import Tail

from .conftest import ROOT
from .logtail_helpers import Auditpipe, count_lines, generate, read_output, read_rotated, replay, wait_for, write_config

NAME = re.compile(r"^out-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}\.log(\.gz)?$")


def lines(n: int, size: int = 1200, start: int = 0) -> list[bytes]:
    return [json.dumps({"auditID": f"id-{i}", "pad": "x" * size}).encode() for i in range(start, start + n)]


def write(sink: RotatingFileSink, values: list[bytes], batch: int = 100) -> list[ReasonCode]:
    """Send ``values`` in batches; the reason codes of what came back refused."""

    async def run() -> list[ReasonCode]:
        await sink.start()
        refused = []
        try:
            for i in range(0, len(values), batch):
                chunk = values[i : i + batch]
                records = [OutRecord(b"", v, j) for j, v in enumerate(chunk)]
                delivery = await sink.send(records, [f"test:{i + j}" for j in range(len(chunk))])
                refused += [d.rejection.code for d in await delivery]
        finally:
            await sink.close()
        return refused

    return asyncio.run(run())


def backups(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name != "out.log")


def content(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.splitlines()


def test_rotates_by_size_as_lumberjack(tmp_path: Path) -> None:
    out = tmp_path / "logs" / "out.log"
    values = lines(3000)  # about 3.6 MB
    assert write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_backups=0, max_age_days=0)), values) == []
    rotated = backups(out.parent)
    assert len(rotated) == 3
    assert all(NAME.match(p.name) for p in rotated), rotated
    files = [*rotated, out]  # oldest first: the stamp sorts as the time
    assert [line for f in files for line in content(f)] == values  # every line once, in order
    for full, after in itertools.pairwise(files):
        size = full.stat().st_size
        assert size <= MEGABYTE
        assert size + len(content(after)[0]) + 1 > MEGABYTE  # rotated only when the next line would not fit
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


def test_a_rotated_file_keeps_its_mode(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    out.touch(mode=0o640)
    os.chmod(out, 0o640)
    write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_backups=0)), lines(1000))
    assert {stat.S_IMODE(f.stat().st_mode) for f in [*backups(tmp_path), out]} == {0o640}


def test_keeps_max_backups_the_newest(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    values = lines(5000)
    rotation = Rotation(max_size_mb=1, max_backups=2, max_age_days=0)
    write(RotatingFileSink("o", str(out), rotation), values)
    # The mill runs in the background after each rotation; a pass that close() cut short is
    # done at the next start. Run that pass here, in the foreground.
    RotatingFileSink("o", str(out), rotation).mill.run_once()
    rotated = backups(tmp_path)
    assert len(rotated) == 2
    kept = [line for f in [*rotated, out] for line in content(f)]
    assert kept == values[-len(kept) :]  # the newest lines, in order


def test_prunes_by_the_time_in_the_name_not_the_file_time(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    now = datetime.now(UTC)
    old_name = tmp_path / f"out-{format_stamp(now - timedelta(days=400))}.log"
    young_name = tmp_path / f"out-{format_stamp(now - timedelta(days=1))}.log.gz"
    old_name.write_bytes(b"{}\n")
    young_name.write_bytes(gzip.compress(b"{}\n"))
    ancient = time.time() - 1000 * 86400
    os.utime(young_name, (ancient, ancient))  # an old file time does not make it old
    sink = RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_age_days=366))
    write(sink, [])
    # The pass the start woke may have been cut short by the close: run it again in
    # the foreground, as the next start would (a mill that is not stopping).
    Mill(str(out), Rotation(compress=True, max_age_days=0), sink.mill.clock).run_once()
    assert not old_name.exists()
    assert young_name.exists()


def test_gzips_in_the_background_without_losing_a_line(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    values = lines(4000)
    rotation = Rotation(max_size_mb=1, max_backups=0, max_age_days=0, compress=True)
    write(RotatingFileSink("o", str(out), rotation), values)
    RotatingFileSink("o", str(out), rotation).mill.run_once()  # what the next start does in the background
    rotated = backups(tmp_path)
    assert len(rotated) == 4 and all(p.name.endswith(".log.gz") and NAME.match(p.name) for p in rotated)
    assert [line for f in [*rotated, out] for line in content(f)] == values
    assert {stat.S_IMODE(p.stat().st_mode) for p in rotated} == {0o600}


def test_a_compression_cut_short_is_done_again(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    backup = tmp_path / "out-2026-03-01T10-00-00.000.log"
    backup.write_bytes(b"".join(v + b"\n" for v in lines(50)))
    (tmp_path / (backup.name + ".gz.tmp")).write_bytes(b"\x1f\x8b half")  # auditpipe stopped mid-compression
    (tmp_path / (backup.name + ".gz")).write_bytes(b"\x1f\x8b half")  # or kube-apiserver did (lumberjack)
    sink = RotatingFileSink("o", str(out), Rotation(compress=True, max_age_days=0))
    write(sink, [])
    assert not (tmp_path / (backup.name + ".gz.tmp")).exists()  # removed at start
    # The pass the start woke may have been cut short by the close: run it again in
    # the foreground, as the next start would (a mill that is not stopping).
    Mill(str(out), Rotation(compress=True, max_age_days=0), sink.mill.clock).run_once()
    assert sorted(p.name for p in tmp_path.iterdir()) == [backup.name + ".gz", "out.log"]
    assert content(tmp_path / (backup.name + ".gz")) == lines(50)


def test_an_event_larger_than_the_rotation_size_is_a_dead_letter(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    huge = json.dumps({"auditID": "huge", "pad": "x" * MEGABYTE}).encode()
    refused = write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1)), [*lines(2), huge, *lines(1, start=2)])
    assert refused == [ReasonCode.TOO_LARGE]
    assert content(out) == lines(3)


def test_a_line_cut_by_a_crash_is_ended_before_appending(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    out.write_bytes(b'{"auditID":"whole"}\n{"auditID":"cu')
    write(RotatingFileSink("o", str(out), Rotation(), fsync=True), lines(2))
    assert out.read_bytes().splitlines()[1:] == [b'{"auditID":"cu', *lines(2)]


def test_the_log_source_reads_the_rotated_output_back(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    values = lines(3000)
    write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_age_days=0, compress=True)), values[:2000])
    write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_age_days=0, compress=False)), values[2000:])
    tail = Tail([str(out)], Limits(), {}, start_at="oldest", exclude=frozenset(), scan_interval=0)
    tail.scan()
    got: list[bytes] = []
    while (batch := tail.next_batch()) is not None:
        got += batch.values
    tail.close()
    assert got == values


def test_lumberjack_recognises_our_backups(apiserver_replay: Path, tmp_path: Path) -> None:
    out = tmp_path / "logs" / "out.log"
    write(RotatingFileSink("o", str(out), Rotation(max_size_mb=1, max_backups=0, max_age_days=0)), lines(5000))
    ours = backups(out.parent)
    assert len(ours) == 5
    live = content(out)
    one = generate(tmp_path / "one.jsonl", 1, seed=5)
    # kube-apiserver's writer opens our log: its mill must take our backups for its own,
    # keep the two newest by the time in their names, and gzip them.
    replay(apiserver_replay, out, one, "--max-backups", "2", "--compress")
    assert [p.name for p in backups(out.parent)] == [p.name + ".gz" for p in ours[-2:]]
    assert content(out)[:-1] == live  # kube appended its event to our live file (under the size limit)


@pytest.fixture
def round_trip_policy() -> str:
    # Keep writes at RequestResponse, reads at Metadata; drop RequestReceived and kube-system leases.
    return (
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n"
        "  - level: None\n    resources: [{group: coordination.k8s.io, resources: [leases]}]\n"
        "  - level: Metadata\n    verbs: [get, list, watch]\n"
        "  - level: RequestResponse\n"
    )


def test_round_trip_apiserver_log_to_rotated_log_to_auditpipe(
    apiserver_replay: Path, tmp_path: Path, round_trip_policy: str
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    kube_logs = tmp_path / "kube"
    filtered = tmp_path / "filtered"
    a = Auditpipe(
        write_config(
            first / "a.yaml",
            f"sources:\n  - {{type: log, paths: ['{kube_logs}/audit.log'], checkpoint_path: state.json}}\n"
            f"default_output:\n  type: file\n  name: rotated\n  path: {filtered}/audit.log\n"
            "  rotation: {max_size_mb: 1, max_backups: 0, max_age_days: 0, compress: true}\n",
            policy=round_trip_policy,
        )
    )
    b = Auditpipe(
        write_config(
            second / "b.yaml",
            f"sources:\n  - {{type: log, paths: ['{filtered}/audit.log'], checkpoint_path: state.json}}\n"
            "default_output: {type: file, name: out, path: out.jsonl}\n",
        )
    )
    try:
        b.start().watching()
        a.start().watching()
        corpus = generate(tmp_path / "corpus.jsonl", 3000, seed=31)
        replay(apiserver_replay, kube_logs / "audit.log", corpus, "--compress")
        # What the first auditpipe must keep: its policy applied to what kube wrote, by `auditpipe filter`.
        (tmp_path / "kept.jsonl").write_bytes(_filter(first / "a.yaml", first / "policy.yaml", kube_logs))
        expected, _ = read_output(tmp_path / "kept.jsonl")
        assert 0 < sum(expected.values()) < 3000
        out = second / "out.jsonl"
        wait_for(lambda: count_lines(out) >= sum(expected.values()), "every kept event at the end", a, b)
        assert a.stop() == 0
        assert b.stop() == 0
    finally:
        a.cleanup()
        b.cleanup()
    assert len(list(filtered.iterdir())) >= 3  # the filtered log itself rotated
    assert read_rotated(filtered) == expected
    got, broken = read_output(second / "out.jsonl")
    assert broken == []
    assert got == expected  # every kept event, once


def _filter(config: Path, policy: Path, logs: Path) -> bytes:
    files = [str(p) for p in sorted(logs.iterdir())]
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "filter", "--config", str(config), "--policy", str(policy), *files],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    return proc.stdout
