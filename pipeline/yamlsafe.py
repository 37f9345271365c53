"""YAML for policies and configs: safe, bounded, and with line numbers.

Both files are written by people and may come from anywhere, so reading one
must never crash or run away:

* nesting deeper than ``MAX_DEPTH`` is refused before anything recursive runs
  (the check walks the token stream, which is flat);
* a document whose aliases expand it past ``MAX_NODES`` values and more than
  ``ALIAS_FACTOR`` times its written size (a "billion laughs" bomb) is
  refused, as kube-apiserver's YAML reader refuses excessive aliasing;
* a mapping key must be a plain scalar (``{x: 1}: 2`` is an error with its
  line, not a TypeError);
* the value is plain JSON data: timestamps and ``!!binary`` stay the strings
  they were written as, ``!!set`` is a mapping to null, non-string keys
  become their JSON text. That is what kube-apiserver sees after its
  YAML-to-JSON step, and it is what msgspec can convert.

Each mapping remembers the line of each key, and repeated keys are recorded
(the last occurrence wins, as in kube-apiserver's lenient decoding), so
callers can report both with a line number.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import PipelineError

MAX_DEPTH = 64
MAX_NODES = 1_000_000
ALIAS_FACTOR = 10  # expansion by aliases beyond which a large document is refused

# libyaml's parser when PyYAML was built with it (the wheels are): the same events and
# marks as the pure-Python one, an order of magnitude faster on a 100,000-rule policy.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_OPENERS = (
    yaml.BlockMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.FlowSequenceStartToken,
)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)


class YamlError(PipelineError):
    """A document that cannot be read; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(slots=True)
class YamlDocument:
    """A parsed document and where each mapping key was written.

    A document read by the JSON fast path has no lines (``has_lines`` False);
    a caller that finds a problem can parse it again with ``parse(text,
    lines=True)`` to name the line.
    """

    value: Any
    key_lines: dict[int, dict[str, int]] = field(default_factory=dict)
    duplicates: list[tuple[str, int]] = field(default_factory=list)  # (key, line) of each repeat
    has_lines: bool = True

    def lines_of(self, mapping: object) -> dict[str, int]:
        """Key -> line for a mapping of this document ({} for anything else)."""
        return self.key_lines.get(id(mapping), {})


def _line(mark: Any) -> int | None:
    return None if mark is None else int(mark.line) + 1


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection while a large document is built.

    Building millions of small containers makes the collector run again and
    again over all of them; a 100,000-rule policy then takes 30 times longer.
    Nothing built here holds a cycle, so pausing it loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_depth(text: str) -> None:
    depth = 0
    try:
        for token in yaml.scan(text, Loader=_BaseLoader):
            if isinstance(token, _OPENERS):
                depth += 1
                if depth > MAX_DEPTH:
                    raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(token.start_mark))
            elif isinstance(token, _CLOSERS):
                depth -= 1
    except yaml.YAMLError as exc:
        raise _as_error(exc) from None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _check_shape(root: yaml.Node) -> None:
    """Refuse nesting deeper than MAX_DEPTH and alias bombs, without recursion.

    Aliases share node objects, so sizes and heights are memoised per node:
    this counts what construction would build, without building it, in time
    linear in the distinct nodes. A large document is fine; one that aliases
    make many times larger than it is written (a "billion laughs") is not.
    """
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    deepest: dict[int, yaml.Node] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if key in size:
            continue
        children = _children(node)
        if not expanded and children:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in size)
            continue
        size[key] = 1 + sum(size[id(c)] for c in children)
        tallest = max(children, key=lambda c: height[id(c)], default=None)
        height[key] = 1 + (height[id(tallest)] if tallest is not None else 0)
        deepest[key] = deepest[id(tallest)] if tallest is not None else node
    if height[id(root)] > MAX_DEPTH + 1:  # +1: the root's scalar leaves are not a level
        raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(deepest[id(root)].start_mark))
    expanded_size = size[id(root)]
    if expanded_size > MAX_NODES and expanded_size > ALIAS_FACTOR * len(size):
        raise YamlError(
            f"aliases expand the document past {MAX_NODES:,} values ({expanded_size:,} from {len(size):,} written)",
            _line(root.start_mark),
        )


class _Loader(_BaseLoader):  # type: ignore[misc]
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.key_lines: dict[int, dict[str, int]] = {}
        self.duplicates: list[tuple[str, int]] = []
        self.depth = 0

    def enter(self, node: yaml.Node) -> None:
        # Construction recurses once per level: bound it here, where it costs nothing.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YamlError(f"nested more than {MAX_DEPTH} levels deep", _line(node.start_mark))


def _key_text(loader: _Loader, node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        kind = "mapping" if isinstance(node, yaml.MappingNode) else "sequence"
        raise YamlError(f"a mapping key must be a plain value, not a {kind}", _line(node.start_mark))
    key = loader.construct_object(node)
    return key if isinstance(key, str) else json.dumps(key)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[str, Any]:
    loader.enter(node)
    loader.flatten_mapping(node)
    mapping: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key_node, value_node in node.value:
        key = _key_text(loader, key_node)
        line = key_node.start_mark.line + 1
        if key in mapping:
            loader.duplicates.append((key, line))
        lines[key] = line
        mapping[key] = loader.construct_object(value_node, deep=True)
    loader.key_lines[id(mapping)] = lines
    loader.depth -= 1
    return mapping


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> list[Any]:
    loader.enter(node)
    items = [loader.construct_object(child, deep=True) for child in node.value]
    loader.depth -= 1
    return items


def _construct_set(loader: _Loader, node: yaml.MappingNode) -> dict[str, None]:
    return {_key_text(loader, k): None for k, _ in node.value}


def _as_written(loader: _Loader, node: yaml.ScalarNode) -> str:
    return str(node.value)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:set", _construct_set)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_written)
_Loader.add_constructor("tag:yaml.org,2002:binary", _as_written)


def _as_error(exc: yaml.YAMLError) -> YamlError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.MarkedYAMLError):
        # The problem alone; pyyaml's str() repeats the source with a caret.
        text = " ".join(filter(None, (exc.context, exc.problem)))
    else:
        text = " ".join(str(exc).split())
    return YamlError(f"not valid YAML: {text}", _line(mark))


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _Duplicate  # the YAML path reports it, with its line
    return mapping


def _parse_json(text: str) -> YamlDocument | None:
    """A JSON document, read by the C JSON parser: a machine-written policy of
    100,000 rules in about a second instead of PyYAML's ten. None when the text
    is not plain JSON (or repeats a key, or nests deeply): then YAML reads it."""
    try:
        value = json.loads(text, object_pairs_hook=_pairs)
    except (ValueError, _Duplicate, RecursionError):
        return None
    if _depth_over(value, MAX_DEPTH):
        return None
    return YamlDocument(value, has_lines=False)


def _depth_over(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False


def parse(text: str, *, lines: bool = False) -> YamlDocument:
    """Parse one YAML (or JSON) document.

    With ``lines`` False a JSON document may come back without line numbers
    (``has_lines`` False), read much faster.

    Raises
    ------
    YamlError
        With a message and, where known, the line.
    """
    with paused_gc():
        if not lines and text.lstrip()[:1] == "{":
            doc = _parse_json(text)
            if doc is not None:
                return doc
        return _parse(text)


def _parse(text: str) -> YamlDocument:
    if _BaseLoader is yaml.SafeLoader:
        # Without libyaml the composer is Python and recursive: bound the depth first, on
        # the flat token stream. (libyaml refuses nesting past 1,000 levels by itself.)
        _check_depth(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlDocument(None)
        if "&" in text:  # aliases need anchors: only then can they multiply the document
            _check_shape(node)
        value = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _as_error(exc) from None
    except RecursionError:  # not reachable below MAX_DEPTH; kept so no input can crash the caller
        raise YamlError(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()
    return YamlDocument(value, loader.key_lines, loader.duplicates)
