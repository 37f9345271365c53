# Types for the compiled matcher (_matcher_c.pyx). CMatcher has exactly the
# API and answers of _matcher_py.PyMatcher; its methods take no keywords.

from collections.abc import Sequence

from ._matcher_py import Request, Rule

__all__ = ["CMatcher"]

class CMatcher:
    """Which rules a request matches, answered from indexes."""

    def __init__(self, rules: Sequence[Rule], /) -> None: ...
    def __len__(self) -> int: ...
    def __reduce__(self) -> tuple[type[CMatcher], tuple[tuple[Rule, ...]]]: ...
    def first(self, request: Request, /) -> int:
        """Index of the first rule the request matches, or -1."""
    def all(self, request: Request, /) -> int:
        """Bit mask of every rule the request matches (bit i is rule i)."""
    def first_many(self, requests: Sequence[Request], /) -> list[int]:
        """``first`` for a whole batch in one call."""
    def all_many(self, requests: Sequence[Request], /) -> list[int]:
        """``all`` for a whole batch in one call."""
