"""Fluent Bit's configuration files, read the way Fluent Bit reads them, and the
Kafka message a pipeline makes of a line or a webhook body.

The message follows Fluent Bit's documented behaviour and its sources (the facts in
wire-formats.md §2): tail makes ``{Key: line}``; the parser filter adds the parsed
fields (dropping ``Time_Key`` unless ``Time_Keep``, dropping ``Key_Name`` unless
``Preserve_Key``); in_http makes one record of a JSON object body; out_kafka's
``raw`` format sends the string under ``Raw_Log_Key`` (a record without it fails its
chunk), ``json`` prepends the timestamp key and re-encodes (no spaces, non-ASCII as
lower-case ``\\uXXXX``, ``/`` unescaped, doubles printed with ``%.16g``), and the key is
the first top-level string named ``Message_Key_Field``. It is not a Fluent Bit.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TRUE = {"on", "true", "yes"}
_FALSE = {"off", "false", "no"}


def normalize(value: Any) -> str:
    """An option's value as Fluent Bit compares it: booleans and numbers as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.lower() in _TRUE:
        return "true"
    if text.lower() in _FALSE:
        return "false"
    return text


def size_bytes(text: str) -> int:
    """A Fluent Bit unit size (``8M``, ``256k``, ``512K``, bytes), taken as powers of 1024."""
    match = re.fullmatch(r"(\d+)\s*([kKmMgG]?)[bB]?", text)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    number, unit = match.groups()
    return int(number) * 1024 ** {"": 0, "k": 1, "m": 2, "g": 3}[unit.lower()]


@dataclass
class Section:
    kind: str  # service, input, filter, output, parser
    options: dict[str, str]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.options.get(key, default)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.options.get(key)
        return default if value is None else value == "true"


@dataclass
class FluentBitConfig:
    sections: list[Section] = field(default_factory=list)

    def of(self, kind: str) -> list[Section]:
        return [s for s in self.sections if s.kind == kind]

    def one(self, kind: str, name: str | None = None) -> Section:
        (found,) = [s for s in self.of(kind) if name is None or s.get("name") == name]
        return found

    def parser(self, name: str) -> Section:
        return self.one("parser", name)


def parse_classic(path: Path) -> FluentBitConfig:
    """A classic ``.conf`` file: ``[SECTION]`` headers, indented ``Key value`` lines,
    ``#`` comments; keys are case-insensitive. ``Parsers_File`` is read too."""
    config = FluentBitConfig()
    current: Section | None = None
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[([A-Z_]+)\]", line)
        if header:
            current = Section(header.group(1).lower(), {})
            config.sections.append(current)
            continue
        if current is None or not raw.startswith("    ") or line.startswith("@"):
            raise ValueError(f"{path}:{number}: not an indented `Key value` line of a section: {raw!r}")
        key, _, value = line.partition(" ")
        key = key.lower()
        if key in current.options:
            raise ValueError(f"{path}:{number}: {key} set twice")
        current.options[key] = normalize(value.strip())
    service = config.of("service")
    parsers_file = service[0].options.pop("parsers_file", None) if service else None
    if parsers_file is not None:
        config.sections += parse_classic(path.parent / parsers_file).sections
    return config


def parse_yaml(path: Path) -> FluentBitConfig:
    """A YAML config: ``service``, ``parsers`` and ``pipeline`` (``inputs``, ``filters``, ``outputs``)."""
    document = yaml.safe_load(path.read_text())
    unknown = set(document) - {"service", "parsers", "pipeline"}
    if unknown:
        raise ValueError(f"{path}: sections this reader does not know: {sorted(unknown)}")

    def section(kind: str, options: dict[str, Any]) -> Section:
        return Section(kind, {str(k).lower(): normalize(v) for k, v in options.items()})

    config = FluentBitConfig()
    if "service" in document:
        config.sections.append(section("service", document["service"]))
    for kind, key in (("input", "inputs"), ("filter", "filters"), ("output", "outputs")):
        config.sections += [section(kind, options) for options in document.get("pipeline", {}).get(key, [])]
    config.sections += [section("parser", options) for options in document.get("parsers", [])]
    return config


# ---- what reaches Kafka -------------------------------------------------------


class ChunkDiscarded(Exception):
    """out_kafka returned FLB_ERROR for a record: the rest of its chunk is dropped."""


def _encode_json(value: Any) -> str:
    # Fluent Bit's JSON: compact, non-ASCII as lower-case \uXXXX (surrogate pairs
    # above U+FFFF), control characters and DEL as \u00xx, `/` as is.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False).replace("\x7f", "\\u007f")


def _timestamp(fmt: str, seconds: int, nanoseconds: int) -> str:
    if fmt == "double":
        return "%.16g" % (seconds + nanoseconds / 1e9)
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{nanoseconds // 1000:06d}" if fmt == "iso8601" else f"{nanoseconds:09d}"
    return f'"{stamp}.{fraction}Z"'


def tail_records(config: FluentBitConfig, line: str) -> list[dict[str, Any]]:
    """The record tail (and the config's filters) make of one line."""
    (tail,) = config.of("input")
    key = tail.get("key", "log") or "log"
    record: dict[str, Any] = {key: line}
    for flt in config.of("filter"):
        if flt.get("name") != "parser":
            raise ValueError(f"a filter this emulation does not know: {flt.get('name')}")
        name = flt.get("key_name")
        if name not in record:
            continue  # the filter does nothing to a record without its key
        parser = config.parser(str(flt.get("parser")))
        assert parser.get("format") == "json", "only JSON parsers are emulated"
        parsed: dict[str, Any] = json.loads(record[name])
        time_key = parser.get("time_key")
        if time_key is not None and parser.get("time_format") and not parser.flag("time_keep"):
            parsed.pop(time_key, None)  # Time_Keep Off: the parser deletes the time key
        kept = {k: v for k, v in record.items() if k != name} if flt.flag("reserve_data") else {}
        if flt.flag("preserve_key"):
            kept = {name: record[name], **kept}
        record = {**parsed, **{k: v for k, v in kept.items() if k not in parsed}}
    return [record]


def http_records(body: bytes) -> list[dict[str, Any]]:
    """in_http with a JSON body: an object is one record, an array one record per object."""
    value = json.loads(body)
    return value if isinstance(value, list) else [value]


def kafka_message(
    config: FluentBitConfig, record: dict[str, Any], seconds: int, nanoseconds: int
) -> tuple[bytes | None, bytes]:
    """The (key, value) out_kafka produces for ``record``, read at that time."""
    (out,) = config.of("output")
    assert out.get("name") == "kafka"
    key_field = out.get("message_key_field")
    key = record.get(key_field) if key_field else None
    key_bytes = key.encode() if isinstance(key, str) else None
    fmt = out.get("format", "json")
    if fmt == "raw":
        raw_key = out.get("raw_log_key")
        value = record.get(raw_key) if raw_key else None
        if not isinstance(value, str):
            raise ChunkDiscarded(f"missing raw_log_key {raw_key!r} in a record with keys {sorted(record)}")
        return key_bytes, value.encode("utf-8")
    if fmt != "json":
        raise ValueError(f"a format this emulation does not know: {fmt}")
    stamp = _timestamp(out.get("timestamp_format", "double") or "double", seconds, nanoseconds)
    head = "{" + _encode_json(out.get("timestamp_key", "@timestamp")) + ":" + stamp
    rest = _encode_json(record)[1:]
    return key_bytes, (head + ("," + rest if rest != "}" else "}")).encode("ascii")
