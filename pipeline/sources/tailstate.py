"""What the log source remembers across restarts: the checkpoint file, and the
fingerprints that recognise a file after it was renamed or compressed.

One entry per followed path (the live file a pattern names): the file being read
then (device and inode, the name it had), how far (``offset``: bytes of complete
lines handed over, counted in uncompressed bytes, and ``line``: lines before it),
a fingerprint (SHA-256 of its first bytes, up to ``FINGERPRINT_BYTES``), and
``rotated_after``: the stamp of the newest rotated backup already read to its end.

Why a fingerprint as well as the inode: an inode number is reused as soon as a
file is deleted (lumberjack prunes backups), and compressing a backup writes a
new file with a new inode. The first bytes of an audit log hold a whole event
with its auditID and timestamps, so they tell one file from another, and they
survive both renaming and gzip (compared after decompression).

The file is replaced atomically (temp file, fsync, rename, fsync of the
directory), so a crash leaves either the old checkpoint or the new one.
"""

from __future__ import annotations

import hashlib
import os
import zlib

import msgspec

from ..errors import StartupError

FINGERPRINT_BYTES = 4096
VERSION = 1
EMPTY_FINGERPRINT = hashlib.sha256(b"").hexdigest()


class FileEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where reading stands for one followed path."""

    path: str  # the followed live path (the key)
    file: str = ""  # the name the file being read had when it was opened ("" between files)
    device: int = 0
    inode: int = 0
    offset: int = 0  # uncompressed bytes of complete lines handed over
    line: int = 0  # lines before ``offset``
    fingerprint_bytes: int = 0
    fingerprint: str = EMPTY_FINGERPRINT
    rotated_after: str = ""  # stamp of the newest backup read to its end

    @property
    def started(self) -> bool:
        """Whether anything of the current file was read (else any next file will do)."""
        return self.offset > 0 or self.fingerprint_bytes > 0


class CheckpointDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    files: list[FileEntry]


Snapshot = tuple[FileEntry, ...]


def encode(entries: Snapshot) -> bytes:
    return msgspec.json.encode(CheckpointDocument(VERSION, list(entries))) + b"\n"


def decode(data: bytes, name: str) -> dict[str, FileEntry]:
    """The entries of a checkpoint file, by path. Raises StartupError naming the file."""
    try:
        doc = msgspec.json.decode(data, type=CheckpointDocument)
    except msgspec.DecodeError as exc:
        raise StartupError(
            f"{name}: not a log-source checkpoint ({exc}); move it away to start over "
            "(files are then read as `start_at` says)",
            retriable=False,
        ) from None
    if doc.version != VERSION:
        raise StartupError(f"{name}: checkpoint version {doc.version}, this auditpipe reads {VERSION}", retriable=False)
    return {e.path: e for e in doc.files}


def load(path: str) -> dict[str, FileEntry]:
    """The checkpoint at ``path``; empty when there is none yet."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StartupError(f"{path}: cannot read the checkpoint: {exc.strerror or exc}", retriable=False) from None
    return decode(data, path)


def write_atomically(path: str, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any point leaves the old or the new content."""
    directory = os.path.dirname(path) or "."
    temp = f"{path}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power loss
    finally:
        os.close(dir_fd)


# ---- fingerprints -------------------------------------------------------------


def digest(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def read_head(path: str, size: int, compressed: bool) -> bytes | None:
    """The first ``size`` bytes of a file's content (gunzipped when ``compressed``); None if unreadable.

    Fewer bytes come back when the content is shorter. A gzip file that is
    corrupt or still being written gives what could be decompressed.
    """
    try:
        with open(path, "rb") as f:
            if not compressed:
                return f.read(size)
            decoder = zlib.decompressobj(wbits=31)
            out = b""
            while len(out) < size:
                data = f.read(16384)
                if not data:
                    break
                out += decoder.decompress(data, size - len(out))
                while decoder.unconsumed_tail and len(out) < size:
                    out += decoder.decompress(decoder.unconsumed_tail, size - len(out))
                if decoder.eof:
                    break  # one member is enough for a head
            return out[:size]
    except (OSError, zlib.error):
        return None


def head_matches(head: bytes | None, entry: FileEntry) -> bool:
    """Whether a file starting with ``head`` is the one ``entry`` was reading."""
    if head is None or len(head) < entry.fingerprint_bytes:
        return False
    return digest(head[: entry.fingerprint_bytes]) == entry.fingerprint
