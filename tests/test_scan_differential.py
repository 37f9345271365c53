"""The compiled one-pass path (``_fastmatch/_scan.pyx``) against the reference path
(events.py, levels.py, enrich.py): the same batches give the same output bytes,
dead letters and counts, with either matcher twin, every policy, enrichment on and
off, over every fixture, the generated corpus, envelopes and hypothesis-made events.

The compiled path splices its output from spans of the input while the reference
re-encodes decoded members, so "the same bytes" holds because both emit members
compactly and copy values verbatim; these tests are what keeps that true.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import _fastmatch
from _fastmatch import PyMatcher, Scanner
from pipeline import config as config_mod
from pipeline import policy as policy_mod
from pipeline import process as process_mod
from pipeline import route as route_mod
from pipeline.process import Batch, Processor

from .helpers import event, line

pytestmark = pytest.mark.skipif(
    Scanner is None, reason="the compiled scanner is disabled (AUDITPIPE_NO_EXTENSIONS): the compiled tier runs this"
)

ROOT = Path(__file__).resolve().parent.parent
POLICIES = sorted((ROOT / "configs" / "policies").glob("*.yaml"))
CONFIGS = [
    "{}",
    "enrichment: {enabled: false}",
    'enrichment: {cluster_name: "eu \\"prod\\"", annotation_prefix: "x.example/"}',
]
FIXTURES = sorted((ROOT / "tests" / "data" / "real-audit").glob("*.jsonl")) + [
    ROOT / "pipeline" / "data" / "sample-events.jsonl"
]
# Rules that keep bodies, so that levels, omitStages and managed fields all show.
BODIES_POLICY: dict[str, Any] = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitManagedFields": True,
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "nonResourceURLs": ["/healthz*"]},
        {"level": "RequestResponse", "users": ["alice", "é"]},
        {"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]},
        {"level": "Request", "verbs": ["create", "update", "patch"], "omitStages": ["ResponseStarted"]},
        {"level": "RequestResponse", "userGroups": ["dev"], "omitManagedFields": False},
        {"level": "Metadata"},
    ],
}


def _matchers() -> list[Any]:
    twins: list[Any] = [PyMatcher]
    if _fastmatch.USING_EXTENSION:
        twins.append(_fastmatch.Matcher)
    return twins


@pytest.fixture(params=_matchers(), ids=lambda m: m.__name__)
def matcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(process_mod, "Matcher", request.param)
    monkeypatch.setattr(route_mod, "Matcher", request.param)
    return request.param


def _pair(policy_doc: dict[str, Any], config_yaml: str) -> tuple[Processor, Processor]:
    loaded = policy_mod.from_mapping(policy_doc)
    config = config_mod.loads(config_yaml)
    return Processor(loaded, config, compiled_pass=True), Processor(loaded, config, compiled_pass=False)


def _view(batch: Batch) -> dict[str, Any]:
    return {
        "events": [(r.key, r.value, r.index) for r in batch.events],
        "outputs": {name: [r.index for r in rs] for name, rs in batch.outputs.items()},
        "dead": [(i, e.code, e.message, e.path, e.raw, e.source) for i, e in batch.dead_letters],
        "stats": batch.stats,
    }


def _same(fast: Processor, reference: Processor, records: list[bytes]) -> Batch:
    origins = [f"in.jsonl:{i + 1}" for i in range(len(records))]
    got = fast.process(records, origins)
    want = reference.process(records, origins)
    assert _view(got) == _view(want)
    return got


def _scanned_share(records: list[bytes]) -> float:
    """How many of ``records`` the scanner reads itself (a test that never reached it would prove nothing)."""
    assert Scanner is not None
    scanner = Scanner("auditpipe.io/", json.loads)
    taken = [e for e in scanner.scan_many(records, ["s"] * len(records), 1 << 23) if e is not None]
    return len(taken) / max(len(records), 1)


def _policy_docs() -> list[dict[str, Any]]:
    return [BODIES_POLICY] + [yaml.safe_load(p.read_text()) for p in POLICIES]


@pytest.mark.parametrize("config_yaml", CONFIGS)
def test_fixtures_and_the_generated_corpus(matcher: Any, config_yaml: str) -> None:
    from pipeline.generate import make_events

    generated = make_events(3000, seed=7)
    assert _scanned_share(generated) > 0.95
    files = [[raw for raw in path.read_bytes().split(b"\n") if raw] for path in FIXTURES]
    for doc in _policy_docs():
        fast, reference = _pair(doc, config_yaml)
        for records in [generated, *files]:
            for start in range(0, len(records), 500):
                _same(fast, reference, records[start : start + 500])


def test_envelopes_take_the_same_path(matcher: Any) -> None:
    events = [event(), event(verb="get", level="Metadata", requestObject=None, responseObject=None)]
    lines = [line(e) for e in events]
    records = [
        json.dumps({"@timestamp": 1.5, "log": lines[0].decode()}).encode(),
        json.dumps({"time": "t", "stream": "stdout", "_p": "F", "log": lines[1].decode() + "\n"}).encode(),
        line({"kind": "EventList", "apiVersion": "audit.k8s.io/v1beta1", "items": events}),
        line([{k: v for k, v in e.items() if k not in ("kind", "apiVersion")} for e in events]),
    ]
    records += [p.read_bytes() for p in sorted((ROOT / "tests" / "data" / "platform-envelopes").glob("*.json"))]
    for config_yaml in CONFIGS:
        fast, reference = _pair(BODIES_POLICY, config_yaml)
        batch = _same(fast, reference, records)
        assert batch.stats.events_out >= 6


def test_the_splice_is_what_the_reference_writes(matcher: Any) -> None:
    """The cases where a byte-wise splice could differ from a re-encoding."""
    fast, reference = _pair(BODIES_POLICY, "{}")
    spaced = json.dumps(event(), indent=2).encode()
    records = [
        spaced,  # whitespace everywhere: members come out compact, values verbatim
        line(event(kind=None)),  # kind added, first
        line(event(apiVersion=None)),
        line({"apiVersion": "audit.k8s.io/v1", **event(kind=None)}),
        line(event(annotations=None)),  # annotations appended at the end
        line({**event(), "annotations": None}),  # null annotations
        line(event(annotations={})),
        line(event(annotations={"auditpipe.io/rule": "x", "a": "b"})),  # replaced in place
        line(event(annotations={"a": "caf\u00e9"})),
        json.dumps(event(annotations={"a": "\u00e9\\/"}), ensure_ascii=True).encode(),  # escapes re-encoded
        line(event(annotations={"a": 1})),  # not a string map: left as it is
        line(event(annotations=["a"])),
        line(event(verb="patch")),  # a patch body keeps its managed fields
        line(event(requestURI="/api/v1/pods?a=1&b=\u00e9")),
        json.dumps(event(requestURI="/api/v1/pods?a=1&b=2"), ensure_ascii=True).replace("&", "\\u0026").encode(),
        json.dumps(event(requestURI="/api/v1/p\u00f6ds")).encode(),  # an escape in the path
        line(event(user={"username": "", "groups": []})),  # the nil user
        line(event(user={"username": "alice", "groups": None, "extra": {"k": ["v"]}})),
        line(event(objectRef=None)),
        line({**event(), "objectRef": None}),
        line(event(objectRef={"resource": "pods", "namespace": None})),
        line(event(level="Request", responseObject=None)),
        line(event(stage="RequestReceived")),
        line(event(responseObject={"kind": "PodList", "items": [{"metadata": {"managedFields": [1], "n": 1}}]})),
        json.dumps(
            event(
                responseObject={
                    "kind": "List",
                    "metadata": {"managedFields": []},
                    "items": [{"kind": "PodList", "items": [{"metadata": {"managedFields": [2]}}, 3, None]}, "x"],
                }
            ),
            indent=1,
        ).encode(),
        line(
            event(
                responseObject={
                    "kind": "Table",
                    "rows": [{"cells": [1], "object": {"metadata": {"n": "a", "managedFields": [{}]}}}, {"cells": []}],
                }
            )
        ),
        line(event(responseObject={"kind": "Table", "rows": [{"object": {"metadata": {"n": 1}}}]})),  # nothing to cut
        line({**event(), "zzz": [1, -0.5e3, True, False, None, {"a": []}]}),
        b'{"level":"Metadata","level":"Metadata"}',
        line(event())[:-1] + b',"level":"None"}',  # a duplicate key: the last one counts
        line(event())[:-1] + b"} x",
        line(event())[:-5],
        line(event())[:-1] + b',"\\u006cevel":"None"}',  # an escaped key
        line(event())[:-1] + b',"n":01}',
        line(event())[:-1] + b',"n":"\\ud800"}',
        line(event())[:-1] + b',"n":"\x01"}',
        line(event())[:-1] + b',"n":"\xed\xa0\x80"}',
        line(event())[:-1] + b',"n":"\xc0\xaf"}',
        line(event())[:-1] + b',"n":"\xe2\x82"}',
        json.dumps(event(user={"username": "jos\u00e9"}, annotations={"a": "\u00e9"}), ensure_ascii=False).encode(),
    ]
    _same(fast, reference, records)


_text = st.text(alphabet=st.sampled_from('az-/:?&=\\"é\u2028 .*\x00'), max_size=12)
_names = st.sampled_from(["alice", "bob", "system:kube-proxy", "é", ""]) | _text
_body = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_meta = st.fixed_dictionaries({"name": _names}, optional={"managedFields": st.lists(_body, max_size=2), "x": _body})
_item = st.fixed_dictionaries(
    {}, optional={"metadata": _meta | _body, "spec": _body, "items": st.lists(_body, max_size=2)}
)
_object = st.fixed_dictionaries(
    {"kind": st.sampled_from(["Pod", "Table", "List", "PodList"])},
    optional={
        "metadata": _meta,
        "items": st.lists(_item | _body, max_size=3) | _body,
        "rows": st.lists(st.fixed_dictionaries({"cells": _body}, optional={"object": _item | _body}), max_size=2),
    },
)
_maybe = st.sampled_from(["keep", "drop", "weird"])


@st.composite
def _events(draw: st.DrawFn) -> bytes:
    e = event(
        level=draw(st.sampled_from(["None", "Metadata", "Request", "RequestResponse", "get"])),
        stage=draw(st.sampled_from(["RequestReceived", "ResponseStarted", "ResponseComplete", "Panic", "x"])),
        verb=draw(st.sampled_from(["get", "list", "create", "update", "patch", "watch"]) | _text),
        auditID=draw(_text),
        requestURI=draw(st.sampled_from(["/healthz", "/api/v1/pods?w=1&x=2"]) | _text),
        user={"username": draw(_names), "groups": draw(st.none() | st.lists(_names, max_size=3))},
        objectRef=draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "resource": st.sampled_from(["pods", "secrets", "nodes"]) | _text,
                    "namespace": _names,
                    "name": _names,
                    "apiGroup": st.sampled_from(["", "apps"]),
                    "subresource": st.sampled_from(["", "status"]),
                },
            )
        ),
        requestObject=draw(_object),
        responseObject=draw(_object),
        annotations=draw(st.dictionaries(_text | st.just("auditpipe.io/rule"), _text, max_size=3)),
    )
    for key in ["kind", "apiVersion", "objectRef", "annotations", "requestObject", "responseObject", "user", "level"]:
        choice = draw(_maybe)
        if choice == "drop":
            e.pop(key)
        elif choice == "weird":
            e[key] = draw(_body)
    keys = list(e)
    random.Random(draw(st.integers(0, 1 << 30))).shuffle(keys)
    shuffled = {k: e[k] for k in keys}
    spacing = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    text = json.dumps(shuffled, separators=spacing, ensure_ascii=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_events(), min_size=1, max_size=6), st.sampled_from(CONFIGS))
def test_generated_events(records: list[bytes], config_yaml: str) -> None:
    for twin in _matchers():
        process_mod.Matcher = route_mod.Matcher = twin
        try:
            fast, reference = _pair(BODIES_POLICY, config_yaml)
            _same(fast, reference, records)
        finally:
            process_mod.Matcher = route_mod.Matcher = _fastmatch.Matcher


_BASE = [
    line(event()),
    json.dumps(event(annotations={"r": 'RBAC: "x"'}), indent=1).encode(),
    line(event(kind=None, objectRef=None, verb="patch")),
]


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(_BASE),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(max_size=3)), min_size=1, max_size=3),
    st.booleans(),
)
def test_damaged_events(base: bytes, edits: list[tuple[int, bytes]], replace: bool) -> None:
    """Bytes replaced, inserted or cut anywhere: whatever the scanner accepts, msgspec must
    accept as the same event (a looser scanner would show here as a difference)."""
    record = bytearray(base)
    for at, data in edits:
        at %= len(record) + 1
        record[at : at + (len(data) if replace else 0)] = data
    fast, reference = _pair(BODIES_POLICY, "{}")
    _same(fast, reference, [bytes(record)])
