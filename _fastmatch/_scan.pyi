# Types for the compiled one-pass event scanner (_scan.pyx).

from collections.abc import Callable, Sequence

from ._matcher_py import Request

class ScannedEvent:
    """An event read by ``Scanner.scan``: the reference ``Event``'s attributes but ``fields``."""

    level: str
    stage: str
    verb: str
    audit_id: str
    source: str
    envelope: str
    synthesized: str
    request: Request
    raw: bytes
    annotations_simple: bool
    @property
    def annotations_raw(self) -> bytes | None: ...
    def render(
        self,
        rank: int,
        omit_managed_fields: bool,
        extra: bytes | None,
        merged: bytes | None,
        cut: Callable[[bytes], bytes],
        /,
    ) -> bytes: ...

class Scanner:
    def __init__(self, annotation_prefix: str, decode_str: Callable[[bytes], str], /) -> None: ...
    def scan_many(
        self, values: Sequence[bytes], origins: Sequence[str], max_bytes: int, /
    ) -> list[ScannedEvent | None]: ...
    def scan(self, data: bytes, source: str, api_version: bytes, envelope: str = "", /) -> ScannedEvent | None: ...

def split_lines(chunk: bytes, /) -> list[bytes]:
    """``chunk.split(b"\\n")``, with memchr."""
