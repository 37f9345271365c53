"""Routing: which outputs an event goes to.

An output's selector has a policy rule's fields and semantics plus ``levels``
(the applied level), so selectors are evaluated by the same matcher as the
policy, all outputs at once: one bit per output.
"""

from __future__ import annotations

from collections.abc import Sequence

from _fastmatch import Matcher, Request

from .config import Output
from .policy import rule_to_matcher


class Router:
    """Every output whose selector matches, else the default output."""

    __slots__ = ("_default", "_matcher", "_names")

    def __init__(self, outputs: Sequence[Output], default: str) -> None:
        rules = [rule_to_matcher(o.selector, tuple(o.selector.levels)) for o in outputs]
        self._matcher = Matcher(rules) if rules else None
        self._names = [o.name for o in outputs]
        self._default = [default]

    @property
    def uses_requests(self) -> bool:
        """False when no output has a selector: every event goes to the default output."""
        return self._matcher is not None

    def routes_by_default(self, count: int) -> list[list[str]]:
        return [self._default] * count

    def routes(self, requests: Sequence[Request]) -> list[list[str]]:
        """Output names per request; ``request[10]`` must be the applied level."""
        default = self._default
        if self._matcher is None:
            return [default] * len(requests)
        names = self._names
        routes = []
        for mask in self._matcher.all_many(requests):
            if not mask:
                routes.append(default)
                continue
            chosen = []
            i = 0
            while mask:
                if mask & 1:
                    chosen.append(names[i])
                mask >>= 1
                i += 1
            routes.append(chosen)
        return routes
