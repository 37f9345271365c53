"""``${VAR}`` interpolation of config values, as Vector and Redpanda Connect do.

* ``${VAR}`` is the variable's value; an unset variable is an error naming it.
* ``${VAR:-default}`` is the default when the variable is unset or empty.
* ``${VAR:?message}`` is an error with that message when it is unset or empty.
* ``$$`` is a literal ``$``; any other ``$`` is kept as written.

Only string values are interpolated, after the YAML is parsed, so a value
can never change the document's structure (a secret holding ``: `` or ``#``
stays one string). Keys are never interpolated. Values may be secrets: no
message here ever shows a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

_TOKEN = re.compile(r"\$(?:(\$)|\{([^}]*)\}|(\{))")
_REFERENCE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?$", re.DOTALL)


def _substitute(text: str, env: Mapping[str, str], where: str) -> str:
    def replace(match: re.Match[str]) -> str:
        escaped, body, unclosed = match.groups()
        if escaped is not None:
            return "$"
        if unclosed is not None:
            raise ConfigError(f"unclosed `${{` in a value - at `{where}` (write `$$` for a literal `$`)")
        ref = _REFERENCE.match(body)
        if ref is None:
            raise ConfigError(
                f"`${{{body}}}` is not a variable reference - at `{where}` "
                "(a name of letters, digits and `_`; `$$` is a literal `$`)"
            )
        name, op, arg = ref.groups()
        value = env.get(name)
        if op == ":-":
            return value if value else arg
        if op == ":?":
            if not value:
                raise ConfigError(f"environment variable {name} is required: {arg or 'unset or empty'} - at `{where}`")
            return value
        if value is None:
            raise ConfigError(f"environment variable {name} is not set - at `{where}`")
        return value

    return _TOKEN.sub(replace, text)


def interpolate(document: Any, env: Mapping[str, str], path: str = "$") -> Any:
    """A copy of ``document`` with every string value interpolated.

    Raises
    ------
    ConfigError
        Naming the variable and the JSON path of the value.
    """
    if isinstance(document, str):
        return _substitute(document, env, path) if "$" in document else document
    if isinstance(document, dict):
        return {k: interpolate(v, env, f"{path}.{k}") for k, v in document.items()}
    if isinstance(document, list):
        return [interpolate(v, env, f"{path}[{i}]") for i, v in enumerate(document)]
    return document
