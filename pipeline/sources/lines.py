"""Records from byte streams: JSON lines, plain or gzip, in bounded memory.

Files may be hostile: a line with no end (``/dev/zero``), a gzip bomb, a
truncated or corrupt gzip, trailing garbage. So:

* input is read in chunks and decompressed in chunks of bounded output;
* a line longer than ``max_bytes`` is reported as soon as it passes the limit
  and skipped up to the next newline, never held;
* a stream problem (truncation, corrupt data, trailing garbage, an unreadable
  path) is raised as ``InputError`` only after every record before it was
  handed over, so nothing readable is lost.

Gzip is recognised by its magic bytes, on files and on standard input alike,
whatever the name. Concatenated gzip members are read as one stream. Line
ends are ``\\n``; a ``\\r`` before it stays in the record, so rejected records
can be written back byte for byte.
"""

from __future__ import annotations

import itertools
import os
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from typing import BinaryIO

import _fastmatch

from ..errors import PipelineError

CHUNK_BYTES = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"
STDIN = "-"
SAMPLE_NAME = "<bundled sample>"


class InputError(PipelineError):
    """A stream that could not be read to its end; the message names the problem."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A line that passed the size limit: reported, skipped, never held."""

    limit: int


Line = bytes | TooLarge


def _split_plain(chunk: bytes) -> list[bytes]:
    return chunk.split(b"\n")


# The compiled one finds newlines with memchr, a few times faster on events of kilobytes.
split_lines = _fastmatch.split_lines or _split_plain


class LineSplitter:
    """Cut chunks of bytes into lines of at most ``max_bytes``.

    ``feed`` returns the lines completed by a chunk (without their ``\\n``),
    ``end`` the last line if the stream did not end with a newline. A line
    over the limit comes out once, as ``TooLarge``, the moment it passes the
    limit; its remaining bytes are dropped up to the next newline.
    """

    __slots__ = ("_max", "_pending", "_pending_size", "_skipping")

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._skipping = False

    def feed(self, chunk: bytes) -> list[Line]:
        if self._skipping:  # inside an over-long line: look for its end, copy nothing
            end = chunk.find(b"\n")
            if end < 0:
                return []
            self._skipping = False
            chunk = chunk[end + 1 :]
        parts = split_lines(chunk)
        tail = parts.pop()  # the unfinished line (b"" after a newline)
        out: list[Line] = []
        limit = self._max
        if parts:
            first = parts[0]
            if self._pending:
                if self._pending_size + len(first) > limit:
                    out.append(TooLarge(limit))
                else:
                    out.append(b"".join(self._pending) + first)
            elif len(first) > limit:
                out.append(TooLarge(limit))
            else:
                out.append(first)
            self._pending.clear()
            self._pending_size = 0
            for part in parts[1:]:
                out.append(part if len(part) <= limit else TooLarge(limit))
        if tail:
            self._pending.append(tail)
            self._pending_size += len(tail)
            if self._pending_size > limit:
                out.append(TooLarge(limit))
                self._pending.clear()
                self._pending_size = 0
                self._skipping = True
        return out

    def end(self) -> Line | None:
        if self._skipping or not self._pending:
            return None
        line = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return line


class _StandardInput:
    """Standard input read with ``os.read``: one system call that hands over
    what the pipe holds now (so ``tail -f | auditpipe filter`` streams), and no
    buffered reader's lock held while it waits. The reader thread may still be
    waiting on an idle pipe when the run ends; had it held that lock, the
    interpreter would abort at exit instead of reporting the interruption."""

    def read(self, size: int) -> bytes:
        return os.read(sys.stdin.fileno(), size)


def _read_chunks(stream: BinaryIO | _StandardInput, interactive: bool) -> Iterator[bytes]:
    read = getattr(stream, "read1", stream.read) if interactive else stream.read
    while True:
        chunk = read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _gunzip(chunks: Iterator[bytes], name: str) -> Iterator[bytes]:
    decoder = zlib.decompressobj(wbits=31)
    fed = False  # the current member has input
    members = 0
    for data in chunks:
        while data:
            try:
                out = decoder.decompress(data, CHUNK_BYTES)
            except zlib.error as exc:
                if members and not fed:
                    raise InputError(name, "trailing garbage after the gzip data") from None
                raise InputError(name, f"corrupt gzip data ({exc})") from None
            fed = True
            if out:
                yield out
            data = decoder.unconsumed_tail
            if decoder.eof:  # one member done; what follows may be another
                members += 1
                # At the end of a member, unused_data holds all the input after it
                # (unconsumed_tail may repeat part of it).
                data = decoder.unused_data
                decoder = zlib.decompressobj(wbits=31)
                fed = False
            elif not data and len(out) == CHUNK_BYTES:
                data = b""
                while out := decoder.decompress(b"", CHUNK_BYTES):
                    yield out
    if fed:
        rest = decoder.flush()
        if rest:
            yield rest
        raise InputError(name, "truncated gzip input")


def decoded_chunks(stream: BinaryIO | _StandardInput, name: str, interactive: bool = False) -> Iterator[bytes]:
    """The stream's bytes in chunks, gunzipped when it starts with gzip's magic."""
    chunks = _read_chunks(stream, interactive)
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= len(GZIP_MAGIC):
            break
    if not head:
        return
    stream_chunks = itertools.chain([head], chunks)
    if head.startswith(GZIP_MAGIC):
        yield from _gunzip(stream_chunks, name)
    else:
        yield from stream_chunks


def sample_bytes() -> bytes:
    return resources.files("pipeline").joinpath("data/sample-events.jsonl").read_bytes()


def default_policy_text() -> str:
    return resources.files("pipeline").joinpath("data/default-policy.yaml").read_text("utf-8")


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def _open(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None


def iter_lines(path: str, max_bytes: int) -> Iterator[tuple[int, Line | None]]:
    """``(line number, record)`` for each non-blank line of ``path``.

    ``-`` is standard input, ``SAMPLE_NAME`` the bundled sample. On standard
    input, ``(number, None)`` marks the end of what the pipe held at that
    moment, so a reader can hand over what it has instead of waiting for more.
    Raises ``InputError`` after the last readable line if the stream is broken.
    """
    name = display_name(path)
    splitter = LineSplitter(max_bytes)
    number = 0
    if path == SAMPLE_NAME:
        chunks: Iterator[bytes] = iter((sample_bytes(),))
        stream = None
    elif path == STDIN:
        stream = None
        chunks = decoded_chunks(_StandardInput(), name, interactive=True)
    else:
        stream = _open(path)
        chunks = decoded_chunks(stream, name)
    error: InputError | None = None
    try:
        try:
            for chunk in chunks:
                for line in splitter.feed(chunk):
                    number += 1
                    if isinstance(line, TooLarge) or line.strip():
                        yield number, line
                if path == STDIN:
                    yield number, None
        except InputError as exc:
            error = exc
        except OSError as exc:  # e.g. reading a directory, or an I/O error mid-file
            error = InputError(name, f"cannot read: {exc.strerror or exc}")
        # The unfinished last line (no newline, or cut off by a broken stream)
        # is still a record: the decoder says what is wrong with it.
        last = splitter.end()
        if last is not None and (isinstance(last, TooLarge) or last.strip()):
            yield number + 1, last
    finally:
        if stream is not None:
            stream.close()
    if error is not None:
        raise error
