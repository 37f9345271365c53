"""Following one live path through lumberjack's rotations, truncations and restarts.

The order in which a followed path's data is read is the order lumberjack
wrote it: the file being read to its end, then every backup rotated after it
(oldest first, by the stamp in its name, gunzipped when compressed), then the
live file. ``rotated_after`` (the stamp of the newest backup read to its end)
is what makes that order survive a restart: on restart, the checkpointed file
is looked for first as the live file, then by its fingerprint among the
backups newer than ``rotated_after``, and reading resumes there.

Rotation is noticed by polling: when the live file has nothing more, the path
is stat'ed; another inode there (or none) means lumberjack renamed it, and
since lumberjack closes a file before renaming it, what the open descriptor
holds then is all there will be. A live file smaller than what was read, or
whose first bytes changed, was truncated (copytruncate): it is read again
from its start, and the log says so.
"""

from __future__ import annotations

import logging
import os

from ..rotation import BackupFile, list_backups, unread_backups
from .lines import InputError
from .tailfile import Collector, OpenFile, unreadable
from .tailstate import FINGERPRINT_BYTES, FileEntry, head_matches, read_head

log = logging.getLogger("auditpipe")


def _same_file(f: OpenFile, entry: FileEntry) -> bool:
    return (f.device, f.inode) == (entry.device, entry.inode) and head_matches(
        f.head if f.compressed else _pread_head(f), entry
    )


def _pread_head(f: OpenFile) -> bytes | None:
    try:
        return os.pread(f.handle.fileno(), FINGERPRINT_BYTES, 0)
    except OSError:
        return None


class Follower:
    """Everything read of one live path: the file being read and which backups are done."""

    def __init__(self, path: str, max_record_bytes: int) -> None:
        self.path = path
        self.max_record_bytes = max_record_bytes
        self.current: OpenFile | None = None
        self.rotated_after = ""
        self.problem: str | None = None  # why the path cannot be read now (health)

    # ---- beginnings ----------------------------------------------------

    def start_new(self, start_at: str, history: frozenset[str] | None = None) -> None:
        """A path the checkpoint does not know. ``oldest``: every backup there now, oldest
        first, then the live file; otherwise backups count as history (those in ``history``
        when given: the files that were there when auditpipe started), and the live file is
        read from its start (``beginning``) or the end of its last complete line (``end``)."""
        if start_at == "oldest":
            return  # nothing read yet, no backup done: the oldest backup is next
        directory = os.path.dirname(self.path)
        existing = [b for b in list_backups(self.path) if history is None or os.path.join(directory, b.name) in history]
        self.rotated_after = max((b.stamp for b in existing), default="")
        if unread_backups(list_backups(self.path), self.rotated_after):
            return  # backups made since the start come first (``_open_next``)
        f = self._open_live()
        if f is not None and start_at == "end":
            offset, line = _last_line_end(f)
            f.seek(offset, line)
        self.current = f

    def restore(self, entry: FileEntry) -> None:
        """Resume where ``entry`` says, finding its file by inode and fingerprint."""
        self.rotated_after = entry.rotated_after
        if not entry.started:
            return  # between files: the next file (backup or live) is read from its start
        live = self._open_live()
        if live is not None:
            if _same_file(live, entry):
                self._resume(live, entry)
                return
            live.close()
        candidates = unread_backups(list_backups(self.path), entry.rotated_after)
        i = _index_of_entry(os.path.dirname(self.path), candidates, entry)
        f = None if i is None else self._open_backup(candidates[i])
        if i is not None and f is not None:
            if i:
                _skipped(candidates[:i], "they are older than the checkpointed file")
            self._resume(f, entry)
            log.info("Resuming a rotated file.", extra={"path": self.path, "file": f.name, "offset": entry.offset})
            return
        log.warning(
            "The checkpointed file is gone (removed while auditpipe was down?): what it held past the "
            "checkpoint was not read; reading the backups rotated after it, then the live file.",
            extra={"path": self.path, "file": entry.file, "inode": entry.inode, "offset": entry.offset},
        )

    def _resume(self, f: OpenFile, entry: FileEntry) -> None:
        if not f.compressed and f.size() < entry.offset:
            log.warning(
                "File truncated while auditpipe was down: reading it again from its start.",
                extra={"file": f.name, "size": f.size(), "offset": entry.offset},
            )
        else:
            f.seek(entry.offset, entry.line)
        self.current = f

    # ---- reading -------------------------------------------------------

    def read(self, out: Collector) -> None:
        """Read into ``out`` until it is full or nothing more can be read now."""
        while not out.full():
            f = self.current
            if f is None:
                if not self._open_next():
                    return
                continue
            if not f.stamp and self._truncated(f):
                continue
            try:
                at_end = f.read_into(out)
            except InputError as exc:
                log.error("Unreadable rotated file: the rest of it is skipped.", extra={"error": str(exc)})
                f.finish(out)
                out.reject(unreadable(str(exc), f"{f.name}:{f.number + 1}"))
                self._done_with(f, found=True)
                continue
            except OSError as exc:
                self._trouble(f"{f.name}: cannot read: {exc.strerror or exc}")
                return
            self._trouble(None)
            if not at_end or out.full():
                return
            if f.stamp:  # a backup does not grow
                f.finish(out)
                self._done_with(f, found=True)
                continue
            if not self._rotated(f):
                if self._truncated(f):
                    continue
                return
            # Renamed away (or deleted): its descriptor now holds all there will be.
            try:
                at_end = f.read_into(out)
            except OSError as exc:
                self._trouble(f"{f.name}: cannot read: {exc.strerror or exc}")
                return
            if not at_end or out.full():
                return
            f.finish(out)
            self._done_with(f, found=False)

    def _rotated(self, f: OpenFile) -> bool:
        """Whether the path names another file now, or none (renamed away, or deleted)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return (st.st_dev, st.st_ino) != (f.device, f.inode)

    def _truncated(self, f: OpenFile) -> bool:
        """Checked before each read of the live file: smaller than what was read, or its first
        bytes changed (copytruncate, then rewritten past the offset)? Then read it from its start."""
        try:
            truncated = f.size() < f.fed or f.head_changed()
        except OSError:
            return False
        if truncated:
            log.warning("File truncated: reading it again from its start.", extra={"file": f.name, "offset": f.fed})
            f.restart()
        return truncated

    def _done_with(self, f: OpenFile, *, found: bool) -> None:
        """``f`` is read to its end. ``found``: it is the oldest unread backup, opened as
        such; otherwise it was the live file, and it is looked for among the backups."""
        if found:
            self.rotated_after = max(self.rotated_after, f.stamp)
        else:
            self._find_rotated(f)
        f.close()
        self.current = None

    def _find_rotated(self, f: OpenFile) -> None:
        candidates = unread_backups(list_backups(self.path), self.rotated_after)
        i = _index_of_file(os.path.dirname(self.path), candidates, f)
        if i is None:
            # Not among the backups: deleted, or renamed by something other than lumberjack.
            # Every backup after ``rotated_after`` is then still unread, and read next.
            return
        if i:
            _skipped(candidates[:i], "they are older than the file that was just rotated")
        self.rotated_after = candidates[i].stamp

    def _open_next(self) -> bool:
        """Open the oldest unread backup, else the live file (from its start)."""
        for _ in range(3):  # a plain backup may vanish as its .gz is completed: list again
            candidates = unread_backups(list_backups(self.path), self.rotated_after)
            if candidates:
                f = self._open_backup(candidates[0])
                if f is None:
                    continue
                self.current = f
                return True
            live = self._open_live()
            if live is None:
                return False
            # Rotated between the listing and the open? Then the backup comes first.
            if unread_backups(list_backups(self.path), self.rotated_after):
                live.close()
                continue
            self.current = live
            return True
        return False

    def _open_backup(self, backup: BackupFile) -> OpenFile | None:
        where = os.path.join(os.path.dirname(self.path), backup.name)
        try:
            return OpenFile.open(
                where, stamp=backup.stamp, compressed=backup.compressed, max_record_bytes=self.max_record_bytes
            )
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._trouble(f"{where}: cannot read: {exc.strerror or exc}")
            return None

    def _open_live(self) -> OpenFile | None:
        try:
            f = OpenFile.open(self.path, stamp="", compressed=False, max_record_bytes=self.max_record_bytes)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._trouble(f"{self.path}: cannot read: {exc.strerror or exc}")
            return None
        self._trouble(None)
        return f

    def _trouble(self, problem: str | None) -> None:
        if problem != self.problem and problem is not None:
            log.error("Cannot read a followed file; retrying.", extra={"detail": problem})
        self.problem = problem

    # ---- state ---------------------------------------------------------

    def entry(self) -> FileEntry:
        if self.current is None:
            return FileEntry(path=self.path, rotated_after=self.rotated_after)
        return self.current.entry(self.path, self.rotated_after)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None


def _index_of_entry(directory: str, candidates: list[BackupFile], entry: FileEntry) -> int | None:
    """Which backup is the checkpointed file: the first whose content starts as it did."""
    for i, backup in enumerate(candidates):
        where = os.path.join(directory, backup.name)
        if head_matches(read_head(where, entry.fingerprint_bytes, backup.compressed), entry):
            return i
    return None


def _index_of_file(directory: str, candidates: list[BackupFile], f: OpenFile) -> int | None:
    """Which backup the just-rotated file ``f`` became: by inode while it is plain (a rename
    keeps it), by its first bytes once gzipped (a new file, a new inode)."""
    k, fp = f.fingerprint(f.fed)
    entry = FileEntry(path="", fingerprint_bytes=k, fingerprint=fp)
    for i, backup in enumerate(candidates):
        where = os.path.join(directory, backup.name)
        if not backup.compressed:
            try:
                st = os.stat(where)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (f.device, f.inode):
                return i
        elif k > 0 and head_matches(read_head(where, k, True), entry):  # an empty file matches nothing
            return i
    return None


def _skipped(backups: list[BackupFile], why: str) -> None:
    log.warning(
        f"Rotated files skipped: {why} (did the clock go backwards?). Replay them with a file source if needed.",
        extra={"files": [b.name for b in backups]},
    )


def _last_line_end(f: OpenFile) -> tuple[int, int]:
    """The offset after the file's last newline (``start_at: end``) and the lines before it,
    so that origins keep the file's own line numbers."""
    fd = f.handle.fileno()
    pos = f.size()
    while pos > 0:
        start = max(0, pos - 65536)
        newline = os.pread(fd, pos - start, start).rfind(b"\n")
        if newline >= 0:
            offset = start + newline + 1
            break
        pos = start
    else:
        return 0, 0
    lines = 0
    done = 0
    while done < offset:
        block = os.pread(fd, min(1 << 20, offset - done), done)
        if not block:
            break
        lines += block.count(b"\n")
        done += len(block)
    return offset, lines
