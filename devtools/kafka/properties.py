"""Java ``.properties`` text as the helper writes it: ``key=value`` lines, no continuations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def render_properties(settings: Mapping[str, str], header: Iterable[str] = ()) -> str:
    """``server.properties`` text: ``key=value`` lines after ``#`` header lines.

    Parameters
    ----------
    settings
        The settings, rendered in their order.
    header
        Comment lines (without ``#``).

    Returns
    -------
    str
        The file's text.
    """
    lines = [f"# {text}".rstrip() for text in header]
    for key, value in settings.items():
        if not key or any(c in key for c in " =:#!\\\n") or "\n" in value:
            raise ValueError(f"cannot write {key!r}={value!r} as a properties line")
        # In a properties file a backslash starts an escape, even in a value.
        lines.append(key + "=" + value.replace("\\", "\\\\"))
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """The settings of a file written by :func:`render_properties` (later lines win, as in Java)."""
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"not a key=value line: {raw!r}")
        settings[key.strip()] = value.strip().replace("\\\\", "\\")
    return settings


def parse_overrides(text: str) -> dict[str, str]:
    """``KAFKA_DEV_OVERRIDES``: whitespace-separated ``key=value`` words.

    Parameters
    ----------
    text
        E.g. ``"log.retention.ms=60000 auto.create.topics.enable=false"``.

    Returns
    -------
    dict of str to str
        The settings.
    """
    overrides = {}
    for word in text.split():
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"override {word!r} is not key=value")
        overrides[key] = value
    return overrides
