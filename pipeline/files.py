"""Read audit records from files: JSON lines, plain or gzip, or standard input."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import BinaryIO

SAMPLE_NAME = "<bundled sample>"


def _open(path: str) -> BinaryIO:
    if path == "-":
        return sys.stdin.buffer
    raw = open(path, "rb")
    if raw.peek(2)[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        raw.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return raw


def sample_bytes() -> bytes:
    return resources.files("pipeline").joinpath("data/sample-events.jsonl").read_bytes()


def default_policy_text() -> str:
    return resources.files("pipeline").joinpath("data/default-policy.yaml").read_text("utf-8")


def iter_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, record)`` for each non-blank line of ``path``.

    ``-`` is standard input; the bundled sample is ``SAMPLE_NAME``. The line
    ending is removed; nothing else is touched (bad bytes are the decoder's
    to report, with this line number).
    """
    stream: BinaryIO = io.BytesIO(sample_bytes()) if path == SAMPLE_NAME else _open(path)
    try:
        for number, line in enumerate(stream, 1):
            line = line.rstrip(b"\r\n")
            if line.strip():
                yield number, line
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else path


def total_size(paths: list[str]) -> int:
    size = 0
    for p in paths:
        if p not in ("-", SAMPLE_NAME):
            try:
                size += Path(p).stat().st_size
            except OSError:
                pass
    return size
