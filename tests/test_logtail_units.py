"""The log source's parts on their own: the checkpoint file, fingerprints, batch
cutting, and the follower driven through rotations, truncation and restarts by a
small stand-in writer that renames and gzips files as lumberjack does (the
real lumberjack and kube-apiserver are in test_logtail_apiserver.py)."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Limits
from pipeline.errors import ReasonCode, StartupError
from pipeline.sources.logtail import Tail
from pipeline.sources.tailfile import cut_point
from pipeline.sources.tailstate import (
    FileEntry,
    decode,
    digest,
    encode,
    head_matches,
    load,
    read_head,
    write_atomically,
)


class Writer:
    """Writes lines to ``path`` and rotates it like lumberjack: rename to
    ``<prefix>-<stamp><ext>``, new file; gzip a backup, then remove the plain one."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rotations = 0
        self.count = 0

    def write(self, n: int, tag: str = "e") -> list[str]:
        ids = []
        with open(self.path, "ab") as f:
            for _ in range(n):
                self.count += 1
                ids.append(f"{tag}{self.count}")
                f.write(json.dumps({"auditID": ids[-1], "pad": "x" * 40}).encode() + b"\n")
        return ids

    def rotate(self, compress: bool = False) -> Path:
        self.rotations += 1
        backup = self.path.with_name(f"{self.path.stem}-2026-03-01T10-00-{self.rotations:02d}.000{self.path.suffix}")
        os.rename(self.path, backup)
        self.path.touch()
        if compress:
            backup = self.compress(backup)
        return backup

    @staticmethod
    def compress(backup: Path) -> Path:
        gz = backup.with_name(backup.name + ".gz")
        gz.write_bytes(gzip.compress(backup.read_bytes()))
        backup.unlink()
        return gz


_OPEN: list[Tail] = []


@pytest.fixture(autouse=True)
def _close_tails() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def tail_of(
    patterns: list[str],
    saved: dict[str, FileEntry] | None = None,
    start_at: str = "beginning",
    records: int = 1000,
    nbytes: int = 1 << 24,
    max_record: int = 1 << 20,
) -> Tail:
    limits = Limits(max_batch_records=records, max_batch_bytes=nbytes, max_record_bytes=max_record)
    tail = Tail(patterns, limits, saved or {}, start_at=start_at, exclude=frozenset(), scan_interval=0)
    tail.scan()
    _OPEN.append(tail)
    return tail


def drain(tail: Tail, batches: int = 10_000) -> tuple[list[str], list[str], list[ReasonCode]]:
    ids: list[str] = []
    origins: list[str] = []
    errors: list[ReasonCode] = []
    for _ in range(batches):
        batch = tail.next_batch()
        if batch is None:
            break
        ids += [json.loads(v)["auditID"] for v in batch.values]
        origins += batch.origins
        errors += [e.code for e in batch.errors]
    return ids, origins, errors


def saved_of(tail: Tail) -> dict[str, FileEntry]:
    """What a restart would load: the snapshot through the checkpoint encoding."""
    return decode(encode(tail.snapshot()), "checkpoint")


# ---- checkpoint file ----------------------------------------------------------


def test_checkpoint_round_trips_and_refuses_garbage(tmp_path: Path) -> None:
    entry = FileEntry(path="/x/a.log", file="/x/a.log", device=1, inode=2, offset=3, line=1, rotated_after="s")
    path = tmp_path / "c.json"
    write_atomically(str(path), encode((entry,)))
    assert load(str(path)) == {"/x/a.log": entry}
    assert os.listdir(tmp_path) == ["c.json"]  # no temp file left behind
    assert load(str(tmp_path / "absent.json")) == {}
    with pytest.raises(StartupError, match=r"bad\.json: not a log-source checkpoint"):
        decode(b'{"version": 1, "files": [{"path": 3}]}', "bad.json")
    with pytest.raises(StartupError, match="checkpoint version 9"):
        decode(b'{"version": 9, "files": []}', "v.json")


def test_fingerprints_recognise_a_file_plain_or_gzipped(tmp_path: Path) -> None:
    content = b"".join(b'{"auditID":"%d"}\n' % i for i in range(2000))
    plain = tmp_path / "a.log"
    plain.write_bytes(content)
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(content))
    entry = FileEntry(path="p", fingerprint_bytes=4096, fingerprint=digest(content[:4096]))
    assert read_head(str(plain), 4096, False) == content[:4096]
    assert read_head(str(gz), 4096, True) == content[:4096]
    assert head_matches(read_head(str(gz), 4096, True), entry)
    other = FileEntry(path="p", fingerprint_bytes=4096, fingerprint=digest(content[1:4097]))
    assert not head_matches(read_head(str(gz), 4096, True), other)
    short = FileEntry(path="p", fingerprint_bytes=5000, fingerprint=digest(content[:5000]))
    assert not head_matches(b"tiny", short)
    assert read_head(str(tmp_path / "absent"), 10, False) is None
    assert head_matches(b"", FileEntry(path="p"))  # nothing read yet: any file will do


@pytest.mark.parametrize(
    ("data", "records", "nbytes", "cut", "newlines"),
    [
        (b"a\nb\nc\n", 2, 100, 4, 2),  # after the second newline
        (b"a\nb\nc", 5, 100, 5, 2),  # fewer lines than room: everything
        (b"aaaa\nbb\ncc\n", 10, 3, 5, 1),  # first newline at or past the byte budget
        (b"aaaa\nbb\ncc\n", 10, 6, 8, 2),
        (b"aaaa\nbb\ncc\n", 2, 6, 8, 2),  # both limits at the same newline
        (b"aaaa", 10, 2, 4, 0),  # no newline: all of it (the line goes on)
        (b"a\n", 0, 10, 0, 0),
    ],
)
def test_cut_point_keeps_lines_whole(data: bytes, records: int, nbytes: int, cut: int, newlines: int) -> None:
    assert cut_point(data, records, nbytes) == (cut, newlines)


# ---- following ----------------------------------------------------------------


def test_lines_with_origins_and_a_half_written_line_waits_for_its_newline(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b'{"auditID":"a"}\n\n{"auditID":"b"}\n{"auditID":')
    tail = tail_of([str(log)])
    ids, origins, _ = drain(tail)
    assert ids == ["a", "b"]
    assert origins == [f"{log}:1", f"{log}:3"]
    entry = tail.snapshot()[0]
    assert (entry.offset, entry.line) == (len(b'{"auditID":"a"}\n\n{"auditID":"b"}\n'), 3)
    with open(log, "ab") as f:
        f.write(b'"c"}\n')
    ids, origins, _ = drain(tail)
    assert (ids, origins) == (["c"], [f"{log}:4"])


def test_batches_are_bounded_by_records_and_bytes(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    w.write(25)
    tail = tail_of([str(w.path)], records=10)
    sizes = []
    while (batch := tail.next_batch()) is not None:
        sizes.append(len(batch.values))
    assert sizes == [10, 10, 5]
    w.write(25)
    line = len(json.dumps({"auditID": "e10", "pad": "x" * 40})) + 1
    tail = tail_of([str(w.path)], nbytes=200)
    sizes = []
    while (batch := tail.next_batch()) is not None:
        sizes.append(sum(len(v) + 1 for v in batch.values))
    assert sum(sizes) == w.path.stat().st_size
    assert all(200 <= size < 200 + line for size in sizes[:-1])  # at most one line over, as the file source


def test_a_rotated_file_is_finished_before_the_new_one(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    first = w.write(10)
    tail = tail_of([str(w.path)], records=5)
    ids, _, _ = drain(tail, batches=1)
    assert ids == first[:5]
    backup = w.rotate()
    second = w.write(3)
    ids, origins, _ = drain(tail)
    assert ids == first[5:] + second
    assert origins[0] == f"{w.path}:6" and origins[-1] == f"{w.path}:3"
    assert tail.snapshot()[0].rotated_after == backup.name[len("audit-") : -len(".log")]


def test_rotated_twice_and_compressed_between_two_polls(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    first = w.write(4)
    tail = tail_of([str(w.path)])
    assert drain(tail)[0] == first
    more = w.write(2)
    w.rotate(compress=True)
    never_opened = w.write(5)
    w.rotate(compress=False)
    live = w.write(1)
    assert drain(tail)[0] == more + never_opened + live


def test_truncation_is_detected_and_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    w = Writer(tmp_path / "audit.log")
    w.write(5)
    tail = tail_of([str(w.path)])
    drain(tail)
    os.truncate(w.path, 0)
    after = w.write(2, tag="t")
    with caplog.at_level(logging.WARNING, logger="auditpipe"):
        assert drain(tail)[0] == after
    assert "File truncated" in caplog.text


def test_a_file_rewritten_in_place_past_the_offset_is_read_again(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    w.write(3)
    tail = tail_of([str(w.path)])
    drain(tail)
    w.path.write_bytes(b"")  # same inode, new content longer than what was read
    again = w.write(8, tag="r")
    assert drain(tail)[0] == again


def test_restart_resumes_where_the_checkpoint_says(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    ids = w.write(10)
    tail = tail_of([str(w.path)], records=4)
    assert drain(tail, batches=1)[0] == ids[:4]
    saved = saved_of(tail)
    tail.close()
    restarted = tail_of([str(w.path)], saved=saved)
    got, origins, _ = drain(restarted)
    assert got == ids[4:]
    assert origins[0] == f"{w.path}:5"


@pytest.mark.parametrize("compress", [False, True])
def test_restart_finds_the_checkpointed_file_among_the_backups(tmp_path: Path, compress: bool) -> None:
    w = Writer(tmp_path / "audit.log")
    ids = w.write(10)
    tail = tail_of([str(w.path)], records=4)
    assert drain(tail, batches=1)[0] == ids[:4]
    saved = saved_of(tail)
    tail.close()
    # auditpipe is down: the file rotates (and is gzipped), twice.
    ids += w.write(3)
    w.rotate(compress=compress)
    ids += w.write(6)
    w.rotate(compress=compress)
    ids += w.write(2)
    restarted = tail_of([str(w.path)], saved=saved)
    assert drain(restarted)[0] == ids[4:]


def test_restart_when_the_checkpointed_file_is_gone_says_so_and_reads_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    w = Writer(tmp_path / "audit.log")
    w.write(10)
    tail = tail_of([str(w.path)], records=4)
    drain(tail, batches=1)
    saved = saved_of(tail)
    w.rotate().unlink()  # pruned while auditpipe was down
    later = w.write(3)
    w.rotate(compress=True)
    live = w.write(2)
    with caplog.at_level(logging.WARNING, logger="auditpipe"):
        restarted = tail_of([str(w.path)], saved=saved)
        assert drain(restarted)[0] == later + live
    assert "checkpointed file is gone" in caplog.text


def test_a_line_over_the_limit_is_reported_once_and_not_held(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(b'{"auditID":"a"}\n' + b"x" * 5000 + b'\n{"auditID":"b"}\n')
    tail = tail_of([str(log)], max_record=1000)
    ids, origins, errors = drain(tail)
    assert ids == ["a", "b"]
    assert errors == [ReasonCode.TOO_LARGE]
    assert origins == [f"{log}:1", f"{log}:3"]


def test_glob_follows_live_files_never_backups(tmp_path: Path) -> None:
    a, b = Writer(tmp_path / "kube-a.log"), Writer(tmp_path / "kube-b.log")
    expected = set(a.write(3, "a") + b.write(3, "b"))
    a.rotate()  # kube-a-<stamp>.log matches *.log: it must not be followed as a file of its own
    expected |= set(a.write(2, "a"))
    tail = tail_of([str(tmp_path / "*.log")], start_at="oldest")
    ids, origins, _ = drain(tail)
    assert sorted(ids) == sorted(expected)
    assert {o.rsplit(":", 1)[0] for o in origins} == {
        str(a.path),
        str(b.path),
        str(tmp_path / "kube-a-2026-03-01T10-00-01.000.log"),
    }
    assert sorted(e.path for e in tail.snapshot()) == [str(a.path), str(b.path)]
    assert tail.status.ready


def test_a_pattern_that_matches_nothing_is_not_ready_until_a_file_appears(tmp_path: Path) -> None:
    pattern = str(tmp_path / "logs" / "*.log")
    tail = tail_of([pattern])
    assert not tail.status.ready and tail.status.reason == f"no file matches {pattern}"
    (tmp_path / "logs").mkdir()
    w = Writer(tmp_path / "logs" / "audit.log")
    ids = w.write(2)
    w.rotate(compress=True)  # it rotated before the next look: the backup is new too
    ids += w.write(2)
    assert drain(tail)[0] == ids  # a file that appears later is read from its start
    assert tail.status.ready


def test_start_at_end_and_oldest(tmp_path: Path) -> None:
    w = Writer(tmp_path / "audit.log")
    old = w.write(2)
    w.rotate(compress=True)
    live = w.write(3)
    assert drain(tail_of([str(w.path)], start_at="end"))[0] == []
    assert drain(tail_of([str(w.path)], start_at="beginning"))[0] == live
    assert drain(tail_of([str(w.path)], start_at="oldest"))[0] == old + live
    tail = tail_of([str(w.path)], start_at="end")
    new = w.write(1)
    ids, origins, _ = drain(tail)
    assert ids == new and origins == [f"{w.path}:4"]
