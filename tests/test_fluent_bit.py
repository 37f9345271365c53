"""The Fluent Bit configs (deploy/fluent-bit) and the auditpipe configs shipped with
them: the option values are read from the files, the Kafka message each pipeline makes
of real apiserver lines (or a webhook body) is built from them, and auditpipe's decoder,
configured by the matching auditpipe config, must give back each event exactly. A
Fluent Bit file that changes a key, a format or a size without its auditpipe config
following fails here."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import msgspec
import pytest
import yaml

from pipeline.config import Config, KafkaSource, load
from pipeline.decode import RecordDecoder
from pipeline.errors import ReasonCode, Rejection
from pipeline.events import Event
from pipeline.model import encode

from .conftest import REAL_AUDIT, ROOT
from .fluentbit import (
    ChunkDiscarded,
    FluentBitConfig,
    http_records,
    kafka_message,
    parse_classic,
    parse_yaml,
    size_bytes,
    tail_records,
)

FLUENT_BIT = ROOT / "deploy" / "fluent-bit"
PIPELINES = ("tail-raw", "tail-envelope", "http-webhook")
FILES = [(name, fmt) for name in PIPELINES for fmt in ("conf", "yaml")]
# 2023-05-17T15:08:31.002417311Z, the read time wire-formats.md §2.5 assumes.
READ_AT = (1684336111, 2417311)
ENV = {"KAFKA_PASSWORD": "stand-in", "KAFKA_BOOTSTRAP_SERVERS": "kafka-0:9093"}
# JSON escaping can triple a string (a 2-byte UTF-8 character becomes a 6-byte \uXXXX);
# the envelope's own keys and timestamp take the rest of this margin.
JSON_GROWTH, ENVELOPE_BYTES = 3, 1024


def fluent_bit(name: str, fmt: str) -> FluentBitConfig:
    path = FLUENT_BIT / f"{name}.{fmt}"
    return parse_classic(path) if fmt == "conf" else parse_yaml(path)


def auditpipe_config(name: str) -> Config:
    return load(FLUENT_BIT / f"auditpipe-{name}.yaml", env=ENV)


def lines(*names: str) -> Iterator[str]:
    for name in names:
        yield from (REAL_AUDIT / name).read_text(encoding="utf-8").splitlines()


TAIL_LINES = list(
    lines("crowdsec-hub-k8s-audit.jsonl", "audit2rbac-demo-v1.jsonl", "falco-k8s-audit-trace-files.jsonl")
)
V1_LINES = [line for line in TAIL_LINES if json.loads(line).get("apiVersion") == "audit.k8s.io/v1"]


@dataclass
class Decoded:
    events: list[Event]
    errors: list[Rejection]


def decode(config: Config, value: bytes) -> Decoded:
    decoder = RecordDecoder(config.limits.max_record_bytes, tuple(config.decoding.record_keys))
    out = Decoded([], [])
    decoder.decode(value, "audit/0/1", out.events, out.errors)
    return out


def event_bytes(event: Event) -> bytes:
    return encode(event.fields)


_members = msgspec.json.Decoder(dict[str, msgspec.Raw]).decode


def assert_same_event(event: Event, line: str) -> None:
    """The event holds every member of the line with its original bytes, in order, plus
    only the `kind` and `apiVersion` auditpipe puts first in a line without both."""
    original = {k: bytes(v) for k, v in _members(line.encode("utf-8")).items()}
    members = {k: bytes(v) for k, v in event.fields.items()}
    assert {k: v for k, v in members.items() if k in original} == original
    type_meta = ("kind", "apiVersion")
    assert [k for k in members if k not in type_meta] == [k for k in original if k not in type_meta]
    assert set(members) - set(original) <= set(type_meta)
    if {"kind", "apiVersion"} <= set(original):
        assert event_bytes(event) == line.encode("utf-8")


# ---- the files ------------------------------------------------------------------


@pytest.mark.parametrize("name", PIPELINES)
def test_classic_and_yaml_files_say_the_same(name: str) -> None:
    classic, yml = fluent_bit(name, "conf"), fluent_bit(name, "yaml")
    assert [(s.kind, s.options) for s in classic.sections] == [(s.kind, s.options) for s in yml.sections]


@pytest.mark.parametrize("name", PIPELINES)
def test_auditpipe_config_passes_config_check_and_reads_the_topic(name: str) -> None:
    config = auditpipe_config(name)
    (source,) = config.sources
    assert isinstance(source, KafkaSource)
    for fmt in ("conf", "yaml"):
        topics = str(fluent_bit(name, fmt).one("output").get("topics")).split(",")
        assert topics == source.topics, f"{name}.{fmt} writes {topics}, auditpipe-{name}.yaml reads {source.topics}"


@pytest.mark.parametrize(("name", "fmt"), FILES)
def test_delivery_settings(name: str, fmt: str) -> None:
    """Each out_kafka is durable and duplicate-free, retries without limit, and
    speaks to the cluster as the matching auditpipe config does."""
    out = fluent_bit(name, fmt).one("output")
    assert out.get("rdkafka.enable.idempotence") == "true"
    assert out.get("rdkafka.request.required.acks") in ("-1", "all")
    assert out.get("retry_limit") in ("no_limits", "false")
    assert out.get("rdkafka.message.timeout.ms") == "0"
    kafka = auditpipe_config(name).kafka
    assert kafka is not None and kafka.sasl is not None
    assert out.get("rdkafka.security.protocol") == kafka.security_protocol
    assert out.get("rdkafka.sasl.mechanisms") == kafka.sasl.mechanism


@pytest.mark.parametrize(("name", "fmt"), FILES)
def test_sizes_fit_from_the_input_buffer_to_auditpipe(name: str, fmt: str) -> None:
    """The largest record the input accepts fits in one Kafka message, and auditpipe
    accepts the largest message (else out_kafka discards a chunk, or auditpipe
    dead-letters events as too_large)."""
    config = fluent_bit(name, fmt)
    (source,) = config.of("input")
    out = config.one("output")
    biggest = size_bytes(str(source.get("buffer_max_size")))
    assert biggest >= 4 * 1024 * 1024, "well above the 32k default, so big RequestResponse events pass"
    if out.get("format") == "json":
        biggest = biggest * JSON_GROWTH + ENVELOPE_BYTES
    message_max = int(str(out.get("rdkafka.message.max.bytes")))
    assert biggest <= message_max
    assert message_max <= auditpipe_config(name).limits.max_record_bytes
    if source.get("name") == "tail":
        assert source.flag("skip_long_lines") and source.flag("read_from_head") and source.get("db")


def test_parser_keeps_the_time_key() -> None:
    for fmt in ("conf", "yaml"):
        parser = fluent_bit("tail-raw", fmt).parser("k8s-audit")
        assert parser.get("time_key") == "stageTimestamp" and parser.flag("time_keep")


def test_apiserver_kubeconfig_posts_to_the_http_input_under_the_matched_tag() -> None:
    kubeconfig = yaml.safe_load((FLUENT_BIT / "apiserver-webhook.kubeconfig").read_text())
    (cluster,) = kubeconfig["clusters"]
    url = urlsplit(cluster["cluster"]["server"])
    for fmt in ("conf", "yaml"):
        config = fluent_bit("http-webhook", fmt)
        source, out = config.one("input", "http"), config.one("output")
        assert (url.hostname, str(url.port)) == (source.get("listen"), source.get("port"))
        assert url.path.lstrip("/") == out.get("match")  # in_http tags a record with the path
    text = (FLUENT_BIT / "apiserver-webhook.kubeconfig").read_text()
    batch = int(text.split("--audit-webhook-truncate-max-batch-size=")[1].split()[0])
    assert batch < size_bytes(str(source.get("buffer_max_size")))


# ---- from the apiserver's line to auditpipe's event ------------------------------


@pytest.mark.parametrize("fmt", ["conf", "yaml"])
def test_tail_raw_gives_back_each_line_exactly_keyed_by_audit_id(fmt: str) -> None:
    config, ap = fluent_bit("tail-raw", fmt), auditpipe_config("tail-raw")
    for line in TAIL_LINES:
        (record,) = tail_records(config, line)
        key, value = kafka_message(config, record, *READ_AT)
        assert value == line.encode("utf-8")
        assert key == json.loads(line)["auditID"].encode()
        decoded = decode(ap, value)
        assert decoded.errors == []
        (event,) = decoded.events
        assert_same_event(event, line)


@pytest.mark.parametrize("fmt", ["conf", "yaml"])
def test_tail_envelope_gives_back_each_line_exactly(fmt: str) -> None:
    config, ap = fluent_bit("tail-envelope", fmt), auditpipe_config("tail-envelope")
    tail_key = config.one("input").get("key")
    assert tail_key in ap.decoding.record_keys
    for line in TAIL_LINES:
        (record,) = tail_records(config, line)
        assert list(record) == [tail_key]
        key, value = kafka_message(config, record, *READ_AT)
        assert key is None and value.isascii()
        assert value.startswith(b'{"@timestamp":1684336111.002417,"' + str(tail_key).encode() + b'":"')
        decoded = decode(ap, value)
        assert decoded.errors == []
        (event,) = decoded.events
        assert_same_event(event, line)


def test_wire_formats_example_a_byte_for_byte() -> None:
    """The emulation makes wire-formats.md §2.5 Example A (the default tail key)."""
    config = parse_classic(FLUENT_BIT / "tail-envelope.conf")
    config.one("input").options["key"] = "log"
    line = next(lines("crowdsec-hub-k8s-audit.jsonl"))
    _, value = kafka_message(config, tail_records(config, line)[0], *READ_AT)
    assert value.startswith(b'{"@timestamp":1684336111.002417,"log":"{\\"kind\\":\\"Event\\"')
    assert b"\\\\u0026container=centos" in value and b'"561.927\\u00b5s' in value
    assert len(json.loads(value)["log"].encode()) == 924


@pytest.mark.parametrize("fmt", ["conf", "yaml"])
def test_http_webhook_gives_back_each_event(fmt: str) -> None:
    """kube-apiserver posts EventLists whose items carry no kind or apiVersion;
    auditpipe splits the re-encoded list and restores both."""
    config, ap = fluent_bit("http-webhook", fmt), auditpipe_config("http-webhook")
    for start in range(0, len(V1_LINES), 10):
        batch = V1_LINES[start : start + 10]
        items = [{k: v for k, v in json.loads(line).items() if k not in ("kind", "apiVersion")} for line in batch]
        body = json.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": items})
        (record,) = http_records(body.encode())
        key, value = kafka_message(config, record, *READ_AT)
        assert key is None and value.startswith(b'{"@timestamp":"2023-05-17T15:08:31.002417Z","kind":"EventList"')
        decoded = decode(ap, value)
        assert decoded.errors == []
        assert [msgspec.json.decode(event_bytes(e)) for e in decoded.events] == [json.loads(x) for x in batch]
        # Same keys in the same order: kind and apiVersion first, as the apiserver writes them.
        assert [list(msgspec.json.decode(event_bytes(e))) for e in decoded.events] == [
            list(json.loads(x)) for x in batch
        ]


# ---- the pitfalls the files avoid fail here when reintroduced --------------------


def _changed(name: str, kind: str, **options: str) -> FluentBitConfig:
    config = copy.deepcopy(fluent_bit(name, "conf"))
    config.of(kind)[0].options.update(options)
    return config


def test_renamed_key_without_record_keys_is_a_dead_letter() -> None:
    config = _changed("tail-envelope", "input", key="audit")
    line = TAIL_LINES[0]
    _, value = kafka_message(config, tail_records(config, line)[0], *READ_AT)
    decoded = decode(auditpipe_config("tail-envelope"), value)
    assert decoded.events == [] and [e.code for e in decoded.errors] == [ReasonCode.UNKNOWN_SHAPE]


def test_renamed_key_without_raw_log_key_discards_the_chunk() -> None:
    config = _changed("tail-raw", "input", key="audit")
    with pytest.raises(ChunkDiscarded, match="missing raw_log_key 'log'"):
        kafka_message(config, tail_records(config, TAIL_LINES[0])[0], *READ_AT)


def test_raw_without_preserve_key_discards_the_chunk() -> None:
    config = _changed("tail-raw", "filter", preserve_key="false")
    with pytest.raises(ChunkDiscarded):
        kafka_message(config, tail_records(config, TAIL_LINES[0])[0], *READ_AT)


def test_time_keep_off_loses_stage_timestamp_in_json() -> None:
    config = _changed("tail-raw", "output", format="json")
    config.parser("k8s-audit").options["time_keep"] = "false"
    line = next(lines("crowdsec-hub-k8s-audit.jsonl"))
    _, value = kafka_message(config, tail_records(config, line)[0], *READ_AT)
    (event,) = decode(auditpipe_config("tail-raw"), value).events
    assert "stageTimestamp" in json.loads(line) and "stageTimestamp" not in event.fields


def test_small_message_max_bytes_is_caught() -> None:
    config = _changed("tail-raw", "output", **{"rdkafka.message.max.bytes": "1000000"})
    out = config.one("output")
    assert size_bytes(str(config.one("input").get("buffer_max_size"))) > int(str(out.get("rdkafka.message.max.bytes")))


def test_readers_reject_what_fluent_bit_would_not_read(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("[INPUT]\nName tail\n")
    with pytest.raises(ValueError, match="not an indented"):
        parse_classic(bad)
    bad.write_text("[INPUT]\n    Name tail\n    name tail\n")
    with pytest.raises(ValueError, match="set twice"):
        parse_classic(bad)


def test_every_deploy_config_accepts_the_shippers_largest_message() -> None:
    """The Deployment's configs (base and example) and the systemd unit's read topics
    these Fluent Bit configs write: they accept the largest message those allow."""
    largest = max(int(str(fluent_bit(name, fmt).one("output").get("rdkafka.message.max.bytes"))) for name, fmt in FILES)
    env = ENV | {"WEBHOOK_TOKEN": "stand-in"}
    for path in (
        ROOT / "deploy" / "kubernetes" / "base" / "config.yaml",
        ROOT / "deploy" / "kubernetes" / "overlays" / "example" / "config.yaml",
        ROOT / "deploy" / "systemd" / "config.yaml",
    ):
        config = load(path, env=env)
        assert any(isinstance(s, KafkaSource) for s in config.sources), path
        assert config.limits.max_record_bytes >= largest, path
