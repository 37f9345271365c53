"""lumberjack's rotation naming and pruning, shared by the log source (which
must find the backups kube-apiserver leaves) and the rotating file sink
(which must leave backups that anything reading kube's log can find).

Facts from ``gopkg.in/natefinch/lumberjack.v2`` v2.2.1 (the rotation kube-apiserver
uses for ``--audit-log-path``):

* a full file ``dir/<prefix><ext>`` is renamed to ``dir/<prefix>-<stamp><ext>``,
  ``<ext>`` being Go's ``filepath.Ext`` (from the last dot of the base name), and
  ``<stamp>`` the rotation time as ``2006-01-02T15-04-05.000``: UTC, unless LocalTime;
* a compressed backup has ``.gz`` appended; it is written next to its source, which is
  removed only once the ``.gz`` is complete (so both can exist for a while);
* backups are ordered by the time in their name (not the file's mtime), newest first;
  ``MaxBackups`` keeps that many *names* (a ``.log`` and its ``.log.gz`` count once),
  ``MaxAge`` removes those whose name is older than now minus that many days (the
  name is parsed as UTC even with LocalTime), removal happens before compression.

Everything here is pure except ``list_backups`` (one directory listing).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

COMPRESS_SUFFIX = ".gz"
STAMP_LENGTH = len("2006-01-02T15-04-05.000")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}$")
# Any lumberjack backup name, whatever the live file's name: ``<prefix>-<stamp>[<ext>][.gz]``.
_ANY_BACKUP = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}(\.[^./]*)?(\.gz)?$")


def go_ext(name: str) -> str:
    """Go's ``filepath.Ext`` of a base name: from the last dot, or empty (``.bashrc`` -> ``.bashrc``)."""
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def prefix_and_ext(path: str) -> tuple[str, str]:
    """lumberjack's ``prefixAndExt``: ``audit.log`` -> (``audit-``, ``.log``)."""
    base = os.path.basename(path)
    ext = go_ext(base)
    return base[: len(base) - len(ext)] + "-", ext


def format_stamp(when: datetime) -> str:
    """``when`` in lumberjack's backup layout ``2006-01-02T15-04-05.000`` (milliseconds truncated, as Go does)."""
    return f"{when:%Y-%m-%dT%H-%M-%S}.{when.microsecond // 1000:03d}"


def parse_stamp(stamp: str) -> datetime | None:
    """The time in a backup name, as Go's ``time.Parse`` reads it (UTC), or None if it is not one."""
    if not _STAMP.match(stamp):
        return None
    try:
        when = datetime.strptime(stamp[:19], "%Y-%m-%dT%H-%M-%S")
    except ValueError:  # month 13, February 30th: Go refuses them too
        return None
    return when.replace(microsecond=int(stamp[20:]) * 1000, tzinfo=UTC)


def backup_name(path: str, when: datetime, local_time: bool) -> str:
    """The name lumberjack gives ``path`` when it rotates it at ``when`` (an aware datetime)."""
    prefix, ext = prefix_and_ext(path)
    moment = when.astimezone() if local_time else when.astimezone(UTC)
    return os.path.join(os.path.dirname(path), f"{prefix}{format_stamp(moment)}{ext}")


def looks_like_backup(name: str) -> bool:
    """Whether a base name is some file's lumberjack backup (so a glob over live files skips it)."""
    return _ANY_BACKUP.search(name) is not None


@dataclass(frozen=True, slots=True)
class BackupFile:
    """One directory entry lumberjack counts as a backup of the live file."""

    name: str  # base name
    stamp: str
    when: datetime

    @property
    def compressed(self) -> bool:
        return self.name.endswith(COMPRESS_SUFFIX)

    @property
    def stem(self) -> str:
        """The name without ``.gz``: a backup and its compressed copy share it."""
        return self.name[: -len(COMPRESS_SUFFIX)] if self.compressed else self.name


def parse_backup(name: str, prefix: str, ext: str) -> BackupFile | None:
    """lumberjack's ``timeFromName``, tried with ``ext`` then ``ext + ".gz"``."""
    for suffix in (ext, ext + COMPRESS_SUFFIX):
        if name.startswith(prefix) and name.endswith(suffix) and len(name) >= len(prefix) + len(suffix):
            stamp = name[len(prefix) : len(name) - len(suffix)]
            when = parse_stamp(stamp)
            if when is not None:
                return BackupFile(name, stamp, when)
    return None


def backups_in(names: list[str], path: str) -> list[BackupFile]:
    """The backups of ``path`` among base names, newest first (lumberjack's ``oldLogFiles`` order)."""
    prefix, ext = prefix_and_ext(path)
    found = [b for b in (parse_backup(n, prefix, ext) for n in names) if b is not None]
    # Newest first; for one stamp the plain file before its .gz, so a reader takes the complete one.
    found.sort(key=lambda b: (b.when, not b.compressed), reverse=True)
    return found


def list_backups(path: str) -> list[BackupFile]:
    """The backups of ``path`` in its directory, newest first; [] if the directory cannot be read."""
    try:
        with os.scandir(os.path.dirname(path) or ".") as entries:
            names = [e.name for e in entries if not e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return backups_in(names, path)


@dataclass(frozen=True, slots=True)
class MillPlan:
    """What one lumberjack mill run does: remove these, then compress those."""

    remove: list[BackupFile]
    compress: list[BackupFile]


def mill_plan(files: list[BackupFile], now: datetime, max_backups: int, max_age_days: int, compress: bool) -> MillPlan:
    """lumberjack's ``millRunOnce`` decisions for ``files`` (newest first), as a pure function."""
    if max_backups == 0 and max_age_days == 0 and not compress:
        return MillPlan([], [])
    remove: list[BackupFile] = []
    if 0 < max_backups < len(files):
        preserved: set[str] = set()
        remaining = []
        for f in files:
            preserved.add(f.stem)
            if len(preserved) > max_backups:
                remove.append(f)
            else:
                remaining.append(f)
        files = remaining
    if max_age_days > 0:
        cutoff = now - timedelta(days=max_age_days)
        remove += [f for f in files if f.when < cutoff]
        files = [f for f in files if f.when >= cutoff]
    to_compress = [f for f in files if not f.compressed] if compress else []
    return MillPlan(remove, to_compress)


def unread_backups(files: list[BackupFile], after: str) -> list[BackupFile]:
    """Backups rotated after the one stamped ``after`` (``""``: all), oldest first, one per
    stem: the plain file while it exists (its ``.gz`` may still be being written)."""
    chosen: dict[str, BackupFile] = {}
    for f in sorted(files, key=lambda b: (b.when, b.compressed)):
        if f.stamp > after and f.stem not in chosen:
            chosen[f.stem] = f
    return list(chosen.values())
