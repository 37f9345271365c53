"""A file output rotated the way kube-apiserver rotates its audit log, so that
whatever reads an apiserver audit log (auditpipe's log source, Fluent Bit's
tail, Falco's ``file://``) reads auditpipe's filtered log the same way.

What kube-apiserver's log backend does with ``--audit-log-max*`` (lumberjack
v2.2.1), done here too:

* one event per line; a line never straddles two files: before a write that
  would take the file past ``max_size_mb`` MiB, the file is renamed
  ``<name>-<stamp><ext>`` (see ``pipeline.rotation``) and a new one is created
  with the old one's mode (0600 for a first file, in a 0700 directory, as
  kube creates them);
* an event larger than the limit can never be written (lumberjack refuses the
  write and kube counts the event as lost): here it becomes a dead letter;
* after a rotation, and at start, a background thread removes backups beyond
  ``max_backups`` / older than ``max_age_days`` (by the stamp in their name) and,
  with ``compress``, gzips the others.

Two things are done more carefully than lumberjack, without changing any
final name: a gzip is written to ``<backup>.gz.tmp``, fsync'ed, renamed to
``<backup>.gz``, and only then is the plain backup removed, so no reader ever
sees a half-written ``.gz`` and no line is lost to a crash mid-compression (the
next start compresses it again and removes a stale ``.tmp``); and two rotations
within one millisecond get distinct names (lumberjack would overwrite the first).

Writes run in one thread of their own, in order, so neither a slow disk nor
``fsync`` blocks the event loop. Durable means written to the operating system
(like kube's log, and ``sinks.file``); with ``fsync: true``, flushed to the disk
after every batch, which survives a power loss at the cost of one disk flush
per batch.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..config.outputs import Rotation
from ..errors import ReasonCode, Rejection, StartupError
from ..rotation import COMPRESS_SUFFIX, BackupFile, backup_name, backups_in, mill_plan, parse_backup, prefix_and_ext
from ..sources.base import READY, Health
from .base import DeadLetter, Delivery
from .file import ends_with_cut_line, write_failed

if TYPE_CHECKING:
    from ..process import OutRecord

log = logging.getLogger("auditpipe")

MEGABYTE = 1024 * 1024
TEMP_SUFFIX = ".tmp"
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class RotatingFile:
    """The live file and its rotation; used from one thread only (the sink's writer)."""

    def __init__(self, path: str, rotation: Rotation, *, fsync: bool, clock: Clock, on_rotate: Callable[[], None]):
        self.path = path
        self.rotation = rotation
        self.max_bytes = rotation.max_size_mb * MEGABYTE
        self.fsync = fsync
        self.clock = clock
        self.on_rotate = on_rotate
        self.fd: int | None = None
        self.size = 0
        self._fresh = False  # just opened an existing file: lumberjack's first-write check applies

    def open(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self._fresh = True
        if ends_with_cut_line(self.path):
            _write_all(fd, b"\n")
            self.size += 1
            log.warning("The output ended with a cut line (a crash?); it was ended.", extra={"path": self.path})

    def write(self, lines: Sequence[bytes]) -> None:
        """Append ``lines`` (each ending in a newline and at most ``max_bytes`` long)."""
        if self.fd is None:
            self.open()
        i = 0
        n = len(lines)
        while i < n:
            if self._fresh:
                self._fresh = False
                if self.size and self.size + len(lines[i]) >= self.max_bytes:
                    self._rotate()
            room = self.max_bytes - self.size
            j = i
            taken = 0
            while j < n and taken + len(lines[j]) <= room:
                taken += len(lines[j])
                j += 1
            if j == i:
                self._rotate()
                continue
            assert self.fd is not None
            _write_all(self.fd, b"".join(lines[i:j]))
            self.size += taken
            i = j
        if self.fsync and self.fd is not None:
            os.fsync(self.fd)

    def _rotate(self) -> None:
        assert self.fd is not None
        if self.fsync:
            os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None
        mode = 0o600
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None:
            mode = st.st_mode & 0o7777
            os.rename(self.path, self._unique_backup_name())
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC, mode)
        if st is not None:
            try:
                os.fchown(fd, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # another owner than ours: lumberjack fails here; keeping the data matters more
        self.fd = fd
        self.size = 0
        if self.fsync:
            _fsync_dir(self.path)
        self.on_rotate()

    def _unique_backup_name(self) -> str:
        when = self.clock()
        while True:
            name = backup_name(self.path, when, self.rotation.local_time)
            if not os.path.exists(name) and not os.path.exists(name + COMPRESS_SUFFIX):
                return name
            when += timedelta(milliseconds=1)

    def close(self) -> None:
        if self.fd is not None:
            fd, self.fd = self.fd, None
            if self.fsync:
                os.fsync(fd)
            os.close(fd)


class _Stopped(Exception):
    """The sink is closing: leave the compression for the next start."""


class Mill:
    """lumberjack's mill: prune and compress backups in a background thread, woken
    after each rotation (several wake-ups while it works make one more run)."""

    def __init__(self, path: str, rotation: Rotation, clock: Clock) -> None:
        self.path = path
        self.rotation = rotation
        self.clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="auditpipe-rotation-mill", daemon=True)
        self._reported: set[str] = set()

    def start(self) -> None:
        self._remove_stale_temps()
        self._thread.start()
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                self.run_once()
            except _Stopped:
                return
            except Exception as exc:  # never a thread traceback; the files stay as they are
                log.error("Pruning or compressing rotated files failed.", extra={"path": self.path, "error": repr(exc)})

    def _names(self) -> list[str]:
        try:
            return os.listdir(os.path.dirname(self.path) or ".")
        except OSError:
            return []

    def run_once(self) -> None:
        r = self.rotation
        plan = mill_plan(backups_in(self._names(), self.path), self.clock(), r.max_backups, r.max_age_days, r.compress)
        directory = os.path.dirname(self.path)
        for f in plan.remove:
            try:
                os.remove(os.path.join(directory, f.name))
            except FileNotFoundError:
                pass
            except OSError as exc:
                self._report(f, "cannot remove an old rotated file", exc)
        for f in plan.compress:
            self._compress(f)

    def _compress(self, f: BackupFile) -> None:
        src = os.path.join(os.path.dirname(self.path), f.name)
        dst = src + COMPRESS_SUFFIX
        temp = dst + TEMP_SUFFIX
        try:
            st = os.stat(src)
            with open(src, "rb") as fin:
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, st.st_mode & 0o777)
                with os.fdopen(fd, "wb") as raw:
                    # Go's gzip.NewWriter default level is 6; no name and no mtime in the header.
                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                        while chunk := fin.read(MEGABYTE):
                            if self._stopping.is_set():
                                raise _Stopped
                            gz.write(chunk)
                    raw.flush()
                    os.fsync(raw.fileno())
            try:
                os.chown(temp, st.st_uid, st.st_gid)
            except PermissionError:
                pass
            os.replace(temp, dst)
            _fsync_dir(dst)  # the .gz is on disk for good before its source goes
            os.remove(src)
        except _Stopped:
            self._remove(temp)
            raise
        except OSError as exc:
            self._remove(temp)
            self._report(f, "cannot compress a rotated file (it stays uncompressed)", exc)

    def _remove_stale_temps(self) -> None:
        prefix, ext = prefix_and_ext(self.path)
        for name in self._names():
            if name.endswith(COMPRESS_SUFFIX + TEMP_SUFFIX) and parse_backup(name[: -len(TEMP_SUFFIX)], prefix, ext):
                self._remove(os.path.join(os.path.dirname(self.path), name))

    @staticmethod
    def _remove(path: str) -> None:
        try:
            os.remove(path)
        except OSError:
            pass

    def _report(self, f: BackupFile, what: str, exc: OSError) -> None:
        if f.name not in self._reported:
            self._reported.add(f.name)
            log.warning(what[0].upper() + what[1:] + ".", extra={"file": f.name, "error": exc.strerror or str(exc)})


class RotatingFileSink:
    """An output that writes JSON lines to ``path``, rotated as kube-apiserver rotates its audit log."""

    def __init__(self, name: str, path: str, rotation: Rotation, *, fsync: bool = False, clock: Clock = _utc_now):
        self.name = name
        self.path = path
        self.rotation = rotation
        # The background pruner and compressor; a pass cut short by close() is done at the next start.
        self.mill = Mill(path, rotation, clock)
        self._file = RotatingFile(path, rotation, fsync=fsync, clock=clock, on_rotate=self.mill.wake)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"auditpipe-{name}-writer")

    async def start(self) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._file.open)
        except OSError as exc:
            raise StartupError(
                f"{self.path}: cannot open for writing: {exc.strerror or exc}", retriable=False
            ) from None
        self.mill.start()

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        limit = self._file.max_bytes
        lines: list[bytes] = []
        refused: list[DeadLetter] = []
        for r in records:
            if len(r.value) + 1 > limit:
                refused.append(self._too_large(r.value, origins[r.index]))
            else:
                lines.append(r.value + b"\n")
        written = asyncio.get_running_loop().run_in_executor(self._pool, self._file.write, lines) if lines else None

        async def durable() -> list[DeadLetter]:
            if written is not None:
                try:
                    await written
                except OSError as exc:
                    raise write_failed(self.path, exc) from None
            return refused

        return asyncio.ensure_future(durable())

    def _too_large(self, value: bytes, origin: str) -> DeadLetter:
        message = (
            f"output event of {len(value) + 1} bytes is larger than the rotation size "
            f"({self.rotation.max_size_mb} MiB) and can never be written "
            "(kube-apiserver's log backend loses such events)"
        )
        return DeadLetter(Rejection(ReasonCode.TOO_LARGE, message, "$", value, origin))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._pool, self._file.close)
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        finally:
            self._pool.shutdown(wait=False)
            await asyncio.to_thread(self.mill.stop)

    def health(self) -> Health:
        return READY
