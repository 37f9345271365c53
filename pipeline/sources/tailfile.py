"""One file being read by the log source, and the batch it reads into.

A file is read through the descriptor it was opened with, so a file that
lumberjack renames away is finished from that same descriptor: the rename
changes the name, not the data. Compressed backups are read as a gunzipped
stream; every offset here is in uncompressed bytes.

Only complete lines count as read: the checkpoint offset is the end of the
last line ended by a newline that was handed over, so a line that was half
written when auditpipe stopped is read whole after a restart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import ReasonCode, Rejection
from .lines import CHUNK_BYTES, LineSplitter, TooLarge, decoded_chunks
from .tailstate import FINGERPRINT_BYTES, FileEntry, digest, read_head


class Collector:
    """The records of one batch, bounded by ``max_records`` and ``max_bytes``."""

    __slots__ = ("errors", "max_bytes", "max_records", "origins", "size", "values")

    def __init__(self, max_records: int, max_bytes: int) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.values: list[bytes] = []
        self.origins: list[str] = []
        self.errors: list[Rejection] = []
        self.size = 0

    def full(self) -> bool:
        return len(self.values) + len(self.errors) >= self.max_records or self.size >= self.max_bytes

    def empty(self) -> bool:
        return not self.values and not self.errors

    @property
    def records_left(self) -> int:
        return self.max_records - len(self.values) - len(self.errors)

    @property
    def bytes_left(self) -> int:
        return self.max_bytes - self.size

    def reject(self, rejection: Rejection) -> None:
        self.errors.append(rejection)


def cut_point(data: bytes, records: int, nbytes: int) -> tuple[int, int]:
    """Where to cut ``data`` so a batch with room for ``records`` lines and ``nbytes`` bytes
    gets whole lines: after the ``records``-th newline, or after the first newline at or
    past ``nbytes`` (one line over, as the file source does), whichever comes first.
    Returns the cut and the newlines before it (counted once here, used for line numbers)."""
    if records <= 0:
        return 0, 0
    end = len(data)
    newlines = data.count(b"\n")
    if newlines >= records:
        pos = 0
        for _ in range(records):
            pos = data.index(b"\n", pos) + 1
        end, newlines = pos, records
    if nbytes < end:
        newline = data.find(b"\n", max(nbytes - 1, 0))
        if 0 <= newline < end - 1:
            end = newline + 1
            newlines = data.count(b"\n", 0, end)
    return end, newlines


class OpenFile:
    """One open file: where reading stands in it, and its first bytes (its fingerprint)."""

    def __init__(
        self,
        name: str,
        handle: BinaryIO,
        *,
        device: int,
        inode: int,
        stamp: str,
        compressed: bool,
        max_record_bytes: int,
    ) -> None:
        self.name = name  # the name it had when opened: origins say `<name>:<line>`
        self.handle = handle
        self.device = device
        self.inode = inode
        self.stamp = stamp  # "" for the live file, else the backup's rotation stamp
        self.compressed = compressed
        self._max_record = max_record_bytes
        self._chunks: Iterator[bytes] | None = decoded_chunks(handle, name) if compressed else None
        self.splitter = LineSplitter(max_record_bytes)
        self.carry = b""  # read, not yet fed: the part of a chunk past a batch's end
        self.fed = 0  # content offset of the end of what was fed to the splitter
        self.boundary = 0  # content offset after the last newline fed
        self.boundary_line = 0  # lines before ``boundary``
        self.number = 0  # the last line number given out
        self.head = (read_head(name, FINGERPRINT_BYTES, True) or b"") if compressed else b""

    @classmethod
    def open(cls, path: str, *, stamp: str, compressed: bool, max_record_bytes: int) -> OpenFile:
        """Open ``path``; raises OSError (FileNotFoundError when it went away)."""
        handle = open(path, "rb", buffering=0)  # noqa: SIM115 (kept open across renames on purpose)
        try:
            st = os.fstat(handle.fileno())
        except OSError:
            handle.close()
            raise
        return cls(
            path,
            handle,
            device=st.st_dev,
            inode=st.st_ino,
            stamp=stamp,
            compressed=compressed,
            max_record_bytes=max_record_bytes,
        )

    # ---- position ------------------------------------------------------

    def seek(self, offset: int, line: int) -> None:
        """Resume at ``offset`` (the end of a line, from a checkpoint), line ``line``."""
        if self._chunks is None:
            self.handle.seek(offset)
            reached = offset
        else:
            reached = 0
            while reached < offset:
                chunk = next(self._chunks, b"")
                if not chunk:
                    break
                if reached + len(chunk) > offset:
                    self.carry = chunk[offset - reached :]
                    reached = offset
                    break
                reached += len(chunk)
        self.fed = self.boundary = reached
        self.boundary_line = self.number = line

    def restart(self) -> None:
        """Read the file again from its start (it was truncated)."""
        self.handle.seek(0)
        self.splitter = LineSplitter(self._max_record)
        self.carry = b""
        self.fed = self.boundary = self.boundary_line = self.number = 0
        self.head = b""

    def size(self) -> int:
        return os.fstat(self.handle.fileno()).st_size

    def fingerprint(self, limit: int) -> tuple[int, str]:
        """(bytes, SHA-256) of the first ``min(limit, FINGERPRINT_BYTES)`` bytes."""
        want = min(limit, FINGERPRINT_BYTES)
        if len(self.head) < want and not self.compressed:
            try:
                self.head = os.pread(self.handle.fileno(), FINGERPRINT_BYTES, 0)
            except OSError:
                pass
        k = min(want, len(self.head))
        return k, digest(self.head[:k])

    def head_changed(self) -> bool:
        """Whether the bytes at the start are no longer the ones read (rewritten in place)."""
        if self.compressed or self.fed == 0:
            return False
        fd = self.handle.fileno()
        want = min(self.fed, FINGERPRINT_BYTES)
        if len(self.head) < want:  # the head grew (or a first look): compare what was known, keep the rest
            now = os.pread(fd, want, 0)
            changed = now[: len(self.head)] != self.head
            self.head = now
            return changed
        return os.pread(fd, len(self.head), 0) != self.head

    def entry(self, path: str, rotated_after: str) -> FileEntry:
        k, fp = self.fingerprint(self.boundary)
        return FileEntry(
            path=path,
            file=self.name,
            device=self.device,
            inode=self.inode,
            offset=self.boundary,
            line=self.boundary_line,
            fingerprint_bytes=k,
            fingerprint=fp,
            rotated_after=rotated_after,
        )

    # ---- reading -------------------------------------------------------

    def _read_chunk(self) -> bytes:
        if self._chunks is None:
            return self.handle.read(CHUNK_BYTES) or b""
        return next(self._chunks, b"")

    def read_into(self, out: Collector) -> bool:
        """Read until ``out`` is full (False) or the file holds nothing more now (True).

        Raises ``InputError`` for a corrupt gzip stream (after the lines before it
        were handed over) and ``OSError`` for an I/O error.
        """
        while not out.full():
            data = self.carry or self._read_chunk()
            self.carry = b""
            if not data:
                return True
            cut, newlines = cut_point(data, out.records_left, out.bytes_left)
            if cut < len(data):
                self.carry = data[cut:]
                data = data[:cut]
            self._feed(data, newlines, out)
        return False

    def _feed(self, data: bytes, newlines: int, out: Collector) -> None:
        base = self.fed
        lines = self.splitter.feed(data)
        if newlines:
            self.boundary = base + data.rfind(b"\n") + 1
            self.boundary_line += newlines
        self.fed = base + len(data)
        out.size += len(data)
        name = self.name
        number = self.number
        for line in lines:
            number += 1
            if isinstance(line, TooLarge):
                out.reject(too_large(line.limit, f"{name}:{number}"))
            elif line and not line.isspace():  # blank lines are skipped (isspace copies nothing)
                out.values.append(line)
                out.origins.append(f"{name}:{number}")
        self.number = number

    def finish(self, out: Collector) -> None:
        """The file will not grow: hand over a last line that has no newline."""
        last = self.splitter.end()
        if isinstance(last, TooLarge):
            self.number += 1
            out.reject(too_large(last.limit, f"{self.name}:{self.number}"))
        elif last is not None and last and not last.isspace():
            self.number += 1
            out.values.append(last)
            out.origins.append(f"{self.name}:{self.number}")
            out.size += len(last)
        if self.fed > self.boundary:
            self.boundary_line += 1
        self.boundary = self.fed

    def close(self) -> None:
        try:
            self.handle.close()
        except OSError:
            pass


def too_large(limit: int, origin: str) -> Rejection:
    return Rejection(
        ReasonCode.TOO_LARGE,
        f"line is over the limit of {limit} bytes (skipped up to the next line; not kept)",
        "$",
        b"",
        origin,
    )


def unreadable(message: str, origin: str) -> Rejection:
    return Rejection(ReasonCode.UNREADABLE, message, "$", b"", origin)
