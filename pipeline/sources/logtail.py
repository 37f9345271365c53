"""The log source: follow the files kube-apiserver's log backend writes
(``--audit-log-path``), through lumberjack's rotations, with the read position
kept in a checkpoint file that is written only once what was read is durable.

The work is split in two:

* ``Tail`` is synchronous and runs in a worker thread (``asyncio.to_thread``):
  it expands the patterns, keeps one ``follow.Follower`` per live file, and reads
  one bounded batch per call, so the event loop is never blocked by disk reads
  or gunzipping;
* ``LogSource`` is the ``Source``: it asks for batches, waits ``poll_interval_ms``
  when there is nothing new, and writes the checkpoint on ``acknowledge``.

Why polling and not inotify: inotify needs a C binding or ctypes, does not see
files on many network and FUSE file systems, and is limited per user
(``max_user_watches``); audit logs are written in bursts of whole lines, and a
stat per file every 250 ms costs nothing next to processing them.

A batch's position is a snapshot of every followed path's ``FileEntry``.
The source is ordered, so acknowledging a snapshot means every batch read
before it is durable too; writing that snapshot is the whole checkpoint.
After a crash the last acknowledged snapshot is read again and reading
resumes there: nothing is lost, and at most the batches in flight at the
crash (``delivery.max_inflight_batches``) are read twice.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import threading
import time
from collections.abc import AsyncIterator

from ..config import Limits
from ..config import LogSource as LogSourceConfig
from ..errors import StartupError
from ..rotation import looks_like_backup
from .base import Drain, Health, SourceBatch
from .follow import Follower
from .tailfile import Collector
from .tailstate import FileEntry, Snapshot, encode, load, write_atomically

log = logging.getLogger("auditpipe")

NOT_STARTED = Health(False, "starting")


def expand(pattern: str, exclude: frozenset[str]) -> list[str]:
    """The live files ``pattern`` names now: regular files, not lumberjack backups, not excluded."""
    names = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
    return [
        p
        for p in names
        if os.path.isfile(p) and not looks_like_backup(os.path.basename(p)) and os.path.abspath(p) not in exclude
    ]


def _files_next_to(patterns: list[str]) -> frozenset[str]:
    """Every file in the folders the patterns look in."""
    found: set[str] = set()
    for pattern in patterns:
        folder = os.path.dirname(pattern) or "."
        for directory in glob.glob(folder) if glob.has_magic(folder) else [folder]:
            try:
                found.update(os.path.join(directory, name) for name in os.listdir(directory))
            except OSError:
                pass
    return frozenset(found)


class Tail:
    """The synchronous half of the log source: patterns, followers, batches.

    ``saved`` holds the checkpoint's entries for paths that have no follower
    now (not there yet, or gone for a while): a path that appears is resumed
    from its entry, and the entry stays in every snapshot until then.
    """

    def __init__(
        self,
        patterns: list[str],
        limits: Limits,
        saved: dict[str, FileEntry],
        *,
        start_at: str,
        exclude: frozenset[str],
        scan_interval: float,
    ) -> None:
        self.patterns = patterns
        self.limits = limits
        self.saved = dict(saved)
        self.start_at = start_at
        self.exclude = exclude
        self.scan_interval = scan_interval
        self.followers: dict[str, Follower] = {}
        self.unmatched: list[str] = list(patterns)
        self._first_scan = True
        self._history: frozenset[str] = frozenset()  # files next to the patterns at the first scan
        self._last_scan = float("-inf")
        self._next = 0  # round robin over followers
        self._lock = threading.Lock()  # next_batch and close may overlap when the loop is cancelled
        self._closed = False
        self.status = NOT_STARTED  # replaced whole by the worker thread, read by the loop

    def scan(self) -> None:
        """Expand the patterns; follow new paths, retire finished ones no pattern names."""
        self._last_scan = time.monotonic()
        if self._first_scan:
            self._history = _files_next_to(self.patterns)
        matched: dict[str, None] = {}
        self.unmatched = []
        for pattern in self.patterns:
            paths = expand(pattern, self.exclude)
            if not paths:
                self.unmatched.append(pattern)
            matched.update(dict.fromkeys(paths))
        for path in matched:
            if path in self.followers:
                continue
            follower = Follower(path, self.limits.max_record_bytes)
            entry = self.saved.pop(path, None)
            # start_at applies to what is there at start. A file that appears later is new,
            # and so are backups of it made since the start (it may have rotated already).
            if entry is not None:
                follower.restore(entry)
            elif self._first_scan:
                follower.start_new(self.start_at)
            else:
                follower.start_new("beginning", self._history)
            self.followers[path] = follower
            log.info("Following a file.", extra={"path": path, "resumed": entry is not None})
        for path in [p for p, f in self.followers.items() if p not in matched and f.current is None]:
            follower = self.followers.pop(path)
            self.saved[path] = follower.entry()
            follower.close()
            log.info("No longer following a file (it is gone).", extra={"path": path})
        self._first_scan = False
        self._update_status()

    def next_batch(self) -> SourceBatch | None:
        """One batch from the followed files (round robin), or None when nothing is new."""
        with self._lock:
            if self._closed:
                return None
            if time.monotonic() - self._last_scan >= self.scan_interval:
                self.scan()
            out = Collector(self.limits.max_batch_records, self.limits.max_batch_bytes)
            followers = list(self.followers.values())
            for i in range(len(followers)):
                followers[(self._next + i) % len(followers)].read(out)
                if out.full():
                    break
            self._next += 1
            self._update_status()
            if out.empty():
                return None
            return SourceBatch(out.values, out.origins, self.snapshot(), errors=out.errors)

    def snapshot(self) -> Snapshot:
        return tuple(f.entry() for f in self.followers.values()) + tuple(self.saved.values())

    def _update_status(self) -> None:
        problems = [f.problem for f in self.followers.values() if f.problem]
        if self.unmatched:
            self.status = Health(False, f"no file matches {self.unmatched[0]}")
        elif problems:
            self.status = Health(False, problems[0])
        else:
            self.status = Health(True)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for follower in self.followers.values():
                follower.close()


class LogSource:
    """Follow kube-apiserver's audit log files; see the module docstring."""

    name = "log"
    ordered = True

    def __init__(self, config: LogSourceConfig, limits: Limits, exclude: frozenset[str] = frozenset()) -> None:
        self.config = config
        self.limits = limits
        checkpoint = config.checkpoint_path
        self._exclude = exclude | {os.path.abspath(checkpoint), os.path.abspath(checkpoint + ".tmp")}
        self._poll = config.poll_interval_ms / 1000
        self._stop = asyncio.Event()
        self._tail: Tail | None = None
        self._checkpoint_problem: str | None = None

    async def start(self, drain: Drain) -> None:
        self._tail = await asyncio.to_thread(self._prepare)

    def _prepare(self) -> Tail:
        checkpoint = self.config.checkpoint_path
        directory = os.path.dirname(checkpoint) or "."
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StartupError(
                f"{directory}: cannot create the checkpoint directory: {exc.strerror or exc}", retriable=False
            ) from None
        if not os.access(directory, os.W_OK | os.X_OK):
            raise StartupError(f"{directory}: the checkpoint directory is not writable", retriable=False)
        saved = load(checkpoint)
        tail = Tail(
            list(self.config.paths),
            self.limits,
            saved,
            start_at=self.config.start_at,
            exclude=frozenset(self._exclude),
            scan_interval=self._poll,
        )
        tail.scan()
        if tail.unmatched:
            log.warning(
                "No file matches a log-source path yet; waiting for it (not ready until then).",
                extra={"paths": tail.unmatched},
            )
        return tail

    async def batches(self) -> AsyncIterator[SourceBatch]:
        tail = self._tail
        assert tail is not None, "start() first"
        while not self._stop.is_set():
            batch = await asyncio.to_thread(tail.next_batch)
            if batch is not None:
                yield batch
                continue
            try:
                await asyncio.wait_for(self._stop.wait(), self._poll)
            except TimeoutError:
                pass

    async def acknowledge(self, positions: list[object]) -> None:
        # Positions are snapshots, oldest first: the newest one says everything.
        snapshot = positions[-1]
        assert isinstance(snapshot, tuple)
        try:
            await asyncio.to_thread(write_atomically, self.config.checkpoint_path, encode(snapshot))
        except OSError as exc:
            problem = f"{self.config.checkpoint_path}: cannot write the checkpoint: {exc.strerror or exc}"
            if problem != self._checkpoint_problem:
                log.error(
                    "Cannot write the checkpoint; a restart would read again from the last one written.",
                    extra={"detail": problem},
                )
            self._checkpoint_problem = problem
            return
        self._checkpoint_problem = None

    async def fail(self, position: object, reason: str) -> None:
        pass  # not acknowledging it is enough: a restart reads it again

    def request_stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        if self._tail is not None:
            await asyncio.to_thread(self._tail.close)

    def health(self) -> Health:
        if self._tail is None:
            return NOT_STARTED
        if self._checkpoint_problem:
            return Health(False, self._checkpoint_problem)
        return self._tail.status
