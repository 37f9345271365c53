"""The compiled scanner on its own: what it takes, what it declines, and what it reads.

Declining is never an error (the record then goes the reference way, which
tests/test_scan_differential.py holds it to), but a scanner that declined
everything would make the compiled pass a no-op, and one that took what it
should decline would change output: both show here.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _fastmatch import Scanner, split_lines
from pipeline.model import decode_str

from .helpers import event, line

pytestmark = pytest.mark.skipif(
    Scanner is None, reason="the compiled scanner is disabled (AUDITPIPE_NO_EXTENSIONS): the compiled tier runs this"
)
V1 = b'"audit.k8s.io/v1"'


def scan(record: bytes) -> object:
    assert Scanner is not None
    return Scanner("auditpipe.io/", decode_str).scan(record, "f:1", V1)


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    "record",
    [
        line(event()),
        json.dumps(event(), indent=4).encode(),  # whitespace anywhere
        line(event(annotations={"why": 'RBAC: "admin"\n'}, user={"username": "jos\u00e9"})),  # escapes in values
        line(event(requestURI="/api/v1/pods?labelSelector=a%3Db\u0026x")),
        line(event(objectRef=None, kind=None, apiVersion=None)),
        line({**event(), "extra": nested(60)}),
        line({**event(), **{f"k{i}": i for i in range(40)}}),
        json.dumps(event(user={"username": "jos\u00e9 \U0001f600"}), ensure_ascii=False).encode(),  # UTF-8
    ],
)
def test_takes_plain_events(record: bytes) -> None:
    assert scan(record) is not None


@pytest.mark.parametrize(
    "record",
    [
        line(event())[:-1] + b',"n":"\xed\xa0\x80"}',  # UTF-8 of a surrogate: not valid UTF-8
        line(event())[:-1] + b',"n":"\xc0\xaf"}',  # an overlong form
        line(event())[:-1] + b',"n":"\xe2\x82"}',  # a sequence cut short
        line(event())[:-1] + b',"n":"\xf4\x90\x80\x80"}',  # past U+10FFFF
        line(event())[:-1] + b',"n":\xc3\xa9}',  # not ASCII outside a string
        json.dumps(event(user={"username": "jos\u00e9"})).encode().replace(b'"user"', b'"us\\u0065r"'),
        line(event())[:-1] + b',"verb":"get"}',  # a duplicate key
        line({**event(), "extra": nested(70)}),  # nesting past the scanner's depth
        line({**event(), **{f"k{i}": i for i in range(70)}}),  # more members than it records
        line(event(level="Verbose")),
        line(event(stage=None)),  # a required field missing
        line({**event(), "log_type": "audit"}),  # an OpenShift record
        line(event(user={"username": None})),
        line(event(objectRef={"resource": 1})),
        line(event())[:-1],  # truncated
        line(event()) + b"x",
        line(event())[:-1] + b',"n":1.}',
        line(event())[:-1] + b',"n":"\\ud83d\\ude00"}',  # a surrogate pair: left to msgspec
        b'{"level":"Metadata"}',
        b"[]",
    ],
)
def test_declines_what_it_cannot_treat_exactly(record: bytes) -> None:
    assert scan(record) is None


# Bytes a string may or may not hold, each put at every offset of the string's
# sixteen- and eight-byte blocks, so each of the scanner's three loops meets it.
_STRING_BYTES = [
    (b"\\n", True),  # an escape
    (b'\\"', True),
    (b"\x7f", True),  # DEL is not a control character in JSON
    ("\u00e9".encode(), True),
    ("\U0001f600".encode(), True),
    (b"\x01", False),  # a raw control character
    (b"\x1f", False),
    (b"\x80", False),  # a continuation byte alone
    (b"\xff", False),
    (b'"', False),  # a quote that ends the string early: what follows is not JSON
]


@pytest.mark.parametrize(("special", "valid"), _STRING_BYTES)
def test_every_offset_of_a_string_block(special: bytes, valid: bool) -> None:
    base = line(event())[:-1]
    for before in range(34):
        for after in range(18):
            value = b"a" * before + special + b"b" * after
            record = base + b',"n":"' + value + b'"}'
            assert (scan(record) is not None) == valid, (before, after)
            # A string that runs into the end of the record: never read past it.
            assert scan(base + b',"n":"' + value) is None


def test_reads_utf8_as_python_does() -> None:
    scanned = scan(
        json.dumps(event(user={"username": "jos\u00e9", "groups": ["\u00e9quipe"]}), ensure_ascii=False).encode()
    )
    assert scanned is not None and scanned.request[:2] == ("jos\u00e9", ("\u00e9quipe",))


def test_reads_what_the_policy_needs() -> None:
    scanned = scan(
        line(
            event(
                requestURI="/apis/apps/v1/namespaces/prod/deployments/web/scale?dryRun=All",
                objectRef={"resource": "deployments", "namespace": "prod", "name": "web", "apiGroup": "apps"},
                user={"username": "", "groups": None},
            )
        )
    )
    assert scanned is not None
    assert scanned.request == (
        None,  # kube's nil user: an empty user with no groups
        (),
        "create",
        "prod",
        "apps",
        "deployments",
        "",
        "web",
        "/apis/apps/v1/namespaces/prod/deployments/web/scale",
        True,
        "RequestResponse",
    )
    assert (scanned.level, scanned.stage, scanned.audit_id) == (
        "RequestResponse",
        "ResponseComplete",
        event()["auditID"],
    )


def test_render_cuts_levels_and_adds_annotations() -> None:
    scanned = scan(json.dumps(event(kind=None), indent=1).encode())
    assert scanned is not None
    out = json.loads(scanned.render(1, False, b'"a.io/rule":"3"', None, lambda body: body))
    assert list(out)[:2] == ["kind", "apiVersion"] and out["level"] == "Metadata"
    assert "requestObject" not in out and "responseObject" not in out
    assert out["annotations"] == {"authorization.k8s.io/decision": "allow", "a.io/rule": "3"}
    kept = json.loads(scanned.render(3, True, None, None, lambda body: body))
    assert kept["requestObject"]["metadata"] == {"name": "web"}  # managed fields cut


def test_managed_fields_are_cut_in_lists_and_tables_without_the_reference() -> None:
    def reference(body: bytes) -> bytes:
        raise AssertionError("the splice should have cut this body itself")

    pods = {"kind": "PodList", "items": [{"metadata": {"name": f"p{i}", "managedFields": [{}]}} for i in range(3)]}
    table = {"kind": "Table", "rows": [{"cells": [], "object": {"metadata": {"managedFields": [], "uid": "u"}}}]}
    scanned = scan(line(event(responseObject=pods, requestObject=table)))
    assert scanned is not None
    out = json.loads(scanned.render(3, True, None, None, reference))
    assert [item["metadata"] for item in out["responseObject"]["items"]] == [{"name": f"p{i}"} for i in range(3)]
    assert out["requestObject"]["rows"][0]["object"]["metadata"] == {"uid": "u"}


@given(st.lists(st.sampled_from([b"\n", b"a", b"\x00", b"\xff", b"{}", b"x" * 40]), max_size=60).map(b"".join))
def test_split_lines_is_bytes_split(chunk: bytes) -> None:
    assert split_lines is not None
    assert split_lines(chunk) == chunk.split(b"\n")
