"""The log source against kube-apiserver's own log backend (k8s.io/apiserver's
plugin/pkg/audit/log writing through lumberjack, driven by apiserver-replay),
with auditpipe running as a real process: every event arrives across rotations,
kill -9 loses nothing, a rotation while auditpipe is down loses nothing,
truncation is detected, and glob patterns follow several files."""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .logtail_helpers import (
    Auditpipe,
    count_lines,
    finish_replay,
    generate,
    read_output,
    read_rotated,
    replay,
    start_replay,
    wait_for,
    without_enrichment,
    write_config,
)

BATCH_RECORDS, INFLIGHT = 50, 4  # write_config's limits: what one crash can duplicate


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("corpora")
    # About 3.7 KB an event: 1500 events are 5-6 MB, five rotations at --max-size-mb 1.
    return {
        "small": generate(d / "small.jsonl", 200, seed=21),
        "medium": generate(d / "medium.jsonl", 1500, seed=22),
        "large": generate(d / "large.jsonl", 3000, seed=23),
        "other": generate(d / "other.jsonl", 1000, seed=24),
    }


@pytest.fixture
def auditpipes() -> Iterator[list[Auditpipe]]:
    started: list[Auditpipe] = []
    yield started
    for a in started:
        a.cleanup()


def log_source_config(tmp_path: Path, paths: str, extra: str = "") -> Path:
    return write_config(
        tmp_path / "auditpipe.yaml",
        f"sources:\n  - type: log\n    paths: [{paths}]\n    checkpoint_path: state/checkpoint.json\n"
        "default_output: {type: file, name: out, path: out.jsonl}\n" + extra,
    )


def backups(logs: Path) -> list[Path]:
    return [p for p in logs.iterdir() if p.name != "audit.log"]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_every_event_arrives_across_rotations(
    apiserver_replay: Path, corpora: dict[str, Path], tmp_path: Path, auditpipes: list[Auditpipe], compress: bool
) -> None:
    logs = tmp_path / "logs"
    auditpipe = Auditpipe(log_source_config(tmp_path, "logs/audit.log")).start().watching()
    auditpipes.append(auditpipe)
    summary = replay(apiserver_replay, logs / "audit.log", corpora["medium"], *(["--compress"] if compress else []))
    assert summary["events"] == 1500
    rotated = backups(logs)
    assert len(rotated) >= 3, rotated
    assert all(p.name.endswith(".log.gz") == compress for p in rotated)
    written = read_rotated(logs)
    assert sum(written.values()) == 1500
    out = tmp_path / "out.jsonl"
    wait_for(lambda: count_lines(out) >= 1500, "1500 events in the output", auditpipe)
    assert auditpipe.stop() == 0
    got, broken = read_output(out)
    assert broken == []
    assert got == written  # same events, same content, each once
    checkpoint = json.loads((tmp_path / "state" / "checkpoint.json").read_bytes())
    [entry] = checkpoint["files"]
    assert entry["path"] == str(logs / "audit.log")
    assert entry["offset"] == (logs / "audit.log").stat().st_size
    assert entry["rotated_after"] == max(p.name[len("audit-") :].split(".log")[0] for p in rotated)


def test_kill_9_mid_stream_loses_nothing(
    apiserver_replay: Path, corpora: dict[str, Path], tmp_path: Path, auditpipes: list[Auditpipe]
) -> None:
    logs = tmp_path / "logs"
    out = tmp_path / "out.jsonl"
    auditpipe = Auditpipe(log_source_config(tmp_path, "logs/audit.log")).start().watching()
    auditpipes.append(auditpipe)
    writer = start_replay(apiserver_replay, logs / "audit.log", corpora["large"], "--compress", "--rate", "2000")
    kills = 0
    try:
        for threshold in (600, 1800):
            wait_for(lambda t=threshold: count_lines(out) >= t, f"{threshold} events", auditpipe)
            seen = len(backups(logs))
            auditpipe.kill9()
            kills += 1
            # While auditpipe is down the log rotates at least once more.
            wait_for(lambda s=seen: len(backups(logs)) > s or writer.poll() is not None, "a rotation while down")
            auditpipe.start()
    finally:
        finish_replay(writer)
    written = read_rotated(logs)
    assert sum(written.values()) == 3000
    wait_for(lambda: len(read_output(out)[0]) >= 3000, "every event after the restarts", auditpipe)
    assert auditpipe.stop() == 0
    got, broken = read_output(out)
    missing = written - got
    duplicates = sum(got.values()) - len(got)
    print(f"kill -9 x{kills}: 3000 events, {duplicates} duplicates, {len(broken)} cut lines")
    assert not missing, f"{sum(missing.values())} events lost"
    assert set(got) == set(written)
    # Only batches that were durable but not yet checkpointed can come again.
    assert duplicates <= kills * INFLIGHT * BATCH_RECORDS
    assert len(broken) <= kills


def test_restart_after_the_file_was_rotated_and_compressed_while_down(
    apiserver_replay: Path, corpora: dict[str, Path], tmp_path: Path, auditpipes: list[Auditpipe]
) -> None:
    logs = tmp_path / "logs"
    out = tmp_path / "out.jsonl"
    auditpipe = Auditpipe(log_source_config(tmp_path, "logs/audit.log")).start().watching()
    auditpipes.append(auditpipe)
    replay(apiserver_replay, logs / "audit.log", corpora["small"], "--compress")  # under 1 MB: no rotation
    wait_for(lambda: count_lines(out) >= 200, "the first 200 events", auditpipe)
    assert auditpipe.stop() == 0
    [entry] = json.loads((tmp_path / "state" / "checkpoint.json").read_bytes())["files"]
    assert entry["offset"] > 0
    # Down: kube-apiserver goes on, the checkpointed file is rotated and gzipped, then more.
    replay(apiserver_replay, logs / "audit.log", corpora["medium"], "--compress")
    assert (logs / "audit.log").stat().st_ino != entry["inode"]
    assert len(backups(logs)) >= 3 and all(p.name.endswith(".gz") for p in backups(logs))
    auditpipe.start()
    wait_for(lambda: count_lines(out) >= 1700, "all 1700 events", auditpipe)
    assert auditpipe.stop() == 0
    got, broken = read_output(out)
    assert broken == []
    assert got == read_rotated(logs)  # each event once: a graceful stop leaves nothing unacknowledged
    assert "Resuming a rotated file." in auditpipe.stderr()


def test_truncation_is_detected(
    apiserver_replay: Path, corpora: dict[str, Path], tmp_path: Path, auditpipes: list[Auditpipe]
) -> None:
    logs = tmp_path / "logs"
    out = tmp_path / "out.jsonl"
    auditpipe = Auditpipe(log_source_config(tmp_path, "logs/audit.log")).start().watching()
    auditpipes.append(auditpipe)
    replay(apiserver_replay, logs / "audit.log", corpora["other"], "--max-size-mb", "0")  # append, no rotation
    first = read_rotated(logs)
    wait_for(lambda: count_lines(out) >= 1000, "the first 1000 events", auditpipe)
    os.truncate(logs / "audit.log", 0)  # copytruncate, or an operator's `> audit.log`
    replay(apiserver_replay, logs / "audit.log", corpora["small"], "--max-size-mb", "0")
    second = read_rotated(logs)
    wait_for(lambda: count_lines(out) >= 1200, "the events written after the truncation", auditpipe)
    assert auditpipe.stop() == 0
    got, _ = read_output(out)
    assert got == first + second
    assert "File truncated: reading it again from its start." in auditpipe.stderr()


def test_glob_follows_several_files(
    apiserver_replay: Path, corpora: dict[str, Path], tmp_path: Path, auditpipes: list[Auditpipe]
) -> None:
    logs = tmp_path / "logs"
    config = log_source_config(tmp_path, "logs/*.log")
    config.write_text(config.read_text().replace("enrichment: {enabled: false}", "enrichment: {enabled: true}"))
    auditpipe = Auditpipe(config).start().watching()
    auditpipes.append(auditpipe)
    writers = [
        start_replay(apiserver_replay, logs / "kube-a.log", corpora["medium"], "--compress"),
        start_replay(apiserver_replay, logs / "kube-b.log", corpora["other"]),
    ]
    for w in writers:
        finish_replay(w)
    written = read_rotated(logs)
    assert sum(written.values()) == 2500
    out = tmp_path / "out.jsonl"
    wait_for(lambda: count_lines(out) >= 2500, "2500 events from two files", auditpipe)
    assert auditpipe.stop() == 0
    lines = out.read_bytes().splitlines()
    assert collections.Counter(without_enrichment(line) for line in lines) == written
    sources = {json.loads(line)["annotations"]["auditpipe.io/source"].rsplit(":", 1)[0] for line in lines}
    names = {os.path.basename(s) for s in sources}
    assert {"kube-a.log", "kube-b.log"} <= names
    assert any(n.startswith("kube-a-") and n.endswith(".log.gz") for n in names)  # gzipped backups, by their name
    checkpoint = json.loads((tmp_path / "state" / "checkpoint.json").read_bytes())
    assert sorted(e["path"] for e in checkpoint["files"]) == [str(logs / "kube-a.log"), str(logs / "kube-b.log")]
