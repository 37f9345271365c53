"""Read a config file: safe YAML, ``${VAR}`` interpolation, strict decoding,
paths resolved against the file's folder, then every check ``run`` would
otherwise fail on later. ``config check`` and ``run`` load the same way, so
what the first accepts the second starts with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from ..errors import ConfigError
from ..yamlsafe import YamlError, parse
from .checks import STDIO, check
from .env import interpolate
from .model import Config
from .walk import marked_values, rewrite_marked


def _resolve(base: Path) -> Any:
    def resolve(value: str) -> str:
        if value == STDIO:
            return value
        p = Path(os.path.expanduser(value))
        return str(p if p.is_absolute() else (base / p).resolve())

    return resolve


def loads(
    text: str | bytes, source: str = "<config>", *, base_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Decode a YAML config.

    Parameters
    ----------
    text
        The file's content.
    source
        The file name, for messages.
    base_dir
        Relative paths in the config are resolved against this folder.
    env
        Variables for ``${VAR}`` (default: the process environment).

    Raises
    ------
    ConfigError
        Naming the file and the JSON path (or line) of every problem.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        doc = parse(text)
    except YamlError as exc:
        where = f"{source}:{exc.line}" if exc.line else source
        raise ConfigError(f"{where}: {exc.message}") from None
    if doc.duplicates:
        raise ConfigError("\n".join(f"{source}:{line}: duplicate key `{key}`" for key, line in doc.duplicates))
    document = {} if doc.value is None else doc.value
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: a config must be a mapping, not {type(document).__name__} - at `$`")
    try:
        document = interpolate(document, os.environ if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        # strict=False: "8080" from ${PORT} is a port, and 1.5e6 is a byte count.
        config = msgspec.convert(document, Config, strict=False, str_keys=True)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if base_dir is not None:
        config = rewrite_marked(config, "path", _resolve(base_dir))
    problems = check(config)
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    return config


def load(path: str | Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and decode a config file; its relative paths are relative to it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror or exc}") from None
    return loads(raw, str(p), base_dir=p.resolve().parent, env=env)


def masked(config: Config) -> dict[str, Any]:
    """The config as plain data, every secret replaced by ``***``."""
    data: dict[str, Any] = msgspec.to_builtins(rewrite_marked(config, "secret", lambda _: "***"))
    return data


def secrets(config: Config) -> list[str]:
    """Every secret value in the config (to keep them out of messages)."""
    return marked_values(config, "secret")
