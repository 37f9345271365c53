# Types for both matcher twins.
#
# At run time ``Matcher`` is ``_matcher_c.CMatcher`` when the extension is
# built and not disabled, else ``PyMatcher``. The two have the same API and
# answers; this stub describes the part they share, so code type-checked
# against it runs on either. In particular the method parameters are
# positional-only, because CMatcher's methods (METH_O) take no keywords.

from collections.abc import Callable, Sequence
from typing import Final, TypeAlias

from ._scan import Scanner as _Scanner

__all__ = [
    "NO_EXTENSIONS",
    "USING_EXTENSION",
    "Matcher",
    "PyMatcher",
    "Request",
    "Rule",
    "Scanner",
    "partition_index",
    "split_lines",
]

# One GroupResources entry: (group, resources, resource_names).
_GroupResources: TypeAlias = tuple[str, tuple[str, ...], tuple[str, ...]]

# (users, user_groups, verbs, namespaces, resources, non_resource_urls, levels);
# an empty tuple means "any". ``levels`` is for routing selectors; policy
# rules pass ().
Rule: TypeAlias = tuple[
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[str, ...],
    tuple[_GroupResources, ...],
    tuple[str, ...],
    tuple[str, ...],
]

# (user, groups, verb, namespace, api_group, resource, subresource, name,
#  path, is_resource_request, level); user None is the nil user.
Request: TypeAlias = tuple[str | None, tuple[str, ...], str, str, str, str, str, str, str, bool, str]

class PyMatcher:
    """Which rules a request matches (either twin; see the module docstring)."""

    def __init__(self, rules: Sequence[Rule], /) -> None: ...
    def __len__(self) -> int: ...
    def first(self, request: Request, /) -> int:
        """Index of the first rule the request matches, or -1."""
    def all(self, request: Request, /) -> int:
        """Bit mask of every rule the request matches (bit i is rule i)."""
    def first_many(self, requests: Sequence[Request], /) -> list[int]:
        """``first`` for a whole batch in one call."""
    def all_many(self, requests: Sequence[Request], /) -> list[int]:
        """``all`` for a whole batch in one call."""

# The active twin. Typed as PyMatcher (as in __init__.py under TYPE_CHECKING):
# CMatcher has exactly the API above.
Matcher = PyMatcher

USING_EXTENSION: Final[bool]
NO_EXTENSIONS: Final[bool]

# The one-pass event scanner; None when the extension is not built or is disabled.
Scanner: type[_Scanner] | None

# Kafka's murmur2 key partitioning (index into the sorted partitions); None when not built.
partition_index: Callable[[bytes, int], int] | None

# ``chunk.split(b"\n")`` found with memchr; None when not built.
split_lines: Callable[[bytes], list[bytes]] | None
