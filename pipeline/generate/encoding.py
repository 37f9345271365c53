"""JSON text the way kube-apiserver writes it: Go's encoding/json, Kubernetes times, Go durations.

:class:`Template` turns a body into JSON text with named holes once, so each event
renders it with a string join instead of a JSON encode.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

JSON = dict[str, Any]

# Go's encoding/json writes compact JSON, raw UTF-8 and these HTML-safe escapes. They can only occur inside
# strings, so replacing them in the encoded text is exact.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_GO_ESCAPES: Final = (
    ("&", "\\u0026"),
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def go_json(value: object) -> str:
    """``value`` as Go's encoding/json writes it: compact, raw UTF-8, HTML-safe escapes."""
    text = _ENCODER.encode(value)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


@lru_cache(maxsize=4096)
def _second(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def micro_time(us: int) -> str:
    """metav1.MicroTime: UTC, always six fractional digits."""
    sec, frac = divmod(us, 1_000_000)
    return f"{_second(sec)}.{frac:06d}Z"


def k8s_time(us: int) -> str:
    """metav1.Time: UTC, whole seconds."""
    return f"{_second(us // 1_000_000)}Z"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:0{len(str(unit)) - 1}d}".rstrip("0")


def go_duration(ns: int) -> str:
    """Format nanoseconds like Go's ``time.Duration.String()``: ``561.927µs``, ``7.85594907s``, ``1m2.5s``."""
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _decimal(ns, 1_000) + "µs"
    if ns < 1_000_000_000:
        return _decimal(ns, 1_000_000) + "ms"
    minutes, rest = divmod(ns, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000) + "s"
    if not minutes:
        return seconds
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{seconds}"


_SLOT: Final = re.compile(r"@@([a-z_]+)@@")


@dataclass(frozen=True, slots=True)
class Template:
    """JSON text with named holes (``"@@name@@"`` in the source object).

    Rendering is one ``str.join``, so a 300 KB body costs a copy instead of a JSON encode. Hole values
    must be JSON-string safe (names, uids, IPs, timestamps), which every caller guarantees.
    """

    parts: tuple[str, ...]
    slots: tuple[str, ...]

    @classmethod
    def of(cls, value: object) -> Template:
        """The template of a JSON value whose holes are strings ``"@@name@@"``."""
        return cls.from_text(go_json(value))

    @classmethod
    def from_text(cls, text: str) -> Template:
        """The template of JSON text already encoded, holes included."""
        pieces = _SLOT.split(text)  # literal, slot, literal, slot, ..., literal
        return cls(tuple(pieces[0::2]), tuple(pieces[1::2]))

    def render(self, values: Mapping[str, str]) -> str:
        """The JSON text with every hole replaced by its value in ``values``."""
        out = [self.parts[0]]
        for name, literal in zip(self.slots, self.parts[1:]):
            out.append(values[name])
            out.append(literal)
        return "".join(out)
