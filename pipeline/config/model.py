"""The pipeline configuration: strict msgspec Structs.

Unknown keys are errors that name their path (``$.outputs[0].selecter``),
options are snake_case nouns with their unit in the name, numbers carry their
ranges, and sources and outputs are tagged by ``type``. Selector fields are
spelled like an audit Policy rule's (``userGroups``, ``nonResourceURLs``) so
a rule can be copied into a selector unchanged.

Two markers travel in the type metadata: ``ConfigPath`` (resolved against
the config file's folder when loaded) and ``Secret`` (masked wherever the
config is shown).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from .outputs import DeadLetterFile, DeadLetterKafka, FileOutput, HttpOutput, KafkaOutput
from .sources import FileSource, KafkaSource, LogSource, WebhookSource
from .types import Base, ConfigPath, Port, Positive, Secret

DEFAULT_MAX_RECORD_BYTES = 8 * 1024 * 1024

Source = KafkaSource | FileSource | WebhookSource | LogSource
Output = KafkaOutput | FileOutput | HttpOutput
DeadLetters = DeadLetterKafka | DeadLetterFile


class Enrichment(Base, kw_only=True, frozen=True):
    enabled: bool = True
    # An annotation-key prefix: checked when loaded (see load.py).
    annotation_prefix: Annotated[str, Meta(min_length=1, max_length=240)] = "auditpipe.io/"
    cluster_name: Annotated[str, Meta(max_length=253)] = ""


class Limits(Base, kw_only=True, frozen=True):
    max_record_bytes: Positive = DEFAULT_MAX_RECORD_BYTES
    # A file source hands over a batch at whichever comes first.
    max_batch_records: Positive = 1000
    max_batch_bytes: Positive = 16 * 1024 * 1024


class Decoding(Base, kw_only=True, frozen=True):
    """How log-shipper records are read. The record's shape is always sniffed;
    this only names the keys that may hold the event."""

    # Keys of a Fluent Bit (or similar) record holding the event line or the event
    # itself, in order: add "kubernetes-audit" for a tail input with `Key
    # kubernetes-audit`, "log_processed" for the kubernetes filter's `Merge_Log_Key`.
    record_keys: Annotated[list[Annotated[str, Meta(min_length=1)]], Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["log", "message"]
    )


class Sasl(Base, kw_only=True, frozen=True):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: Annotated[str, Meta(min_length=1)]
    password: Secret


class Tls(Base, kw_only=True, frozen=True):
    ca_file: ConfigPath | None = None
    cert_file: ConfigPath | None = None
    key_file: ConfigPath | None = None
    check_hostname: bool = True


class Kafka(Base, kw_only=True, frozen=True):
    """How to reach the cluster, shared by every Kafka source and output."""

    bootstrap_servers: Annotated[str, Meta(min_length=1)] = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl: Sasl | None = None
    tls: Tls | None = None
    client_id: Annotated[str, Meta(min_length=1)] = "auditpipe"
    producer_linger_ms: Annotated[int, Meta(ge=0, le=60_000)] = 5
    producer_max_batch_bytes: Annotated[int, Meta(ge=16_384)] = 1_048_576
    producer_max_request_bytes: Annotated[int, Meta(ge=16_384)] = 16_777_216
    # zstd: on audit events about 7× faster to compress than aiokafka's lz4 (level 9, fixed)
    # and 3× smaller (bench: 1,055 against 143 MB/s, ratio 20.9 against 6.8).
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "zstd"
    startup_deadline_secs: Annotated[float, Meta(gt=0)] = 60.0
    # How long one request (and a batch waiting in the producer) may take before
    # it fails and is sent again; aiokafka's default.
    request_timeout_ms: Annotated[int, Meta(ge=1_000)] = 40_000
    # Pause before retrying a failed request (as the Java client's retry.backoff.ms).
    retry_backoff_ms: Annotated[int, Meta(ge=10)] = 100
    # Connection attempts to a broker that refused the last one wait this long,
    # doubling up to the max (as reconnect.backoff.ms / reconnect.backoff.max.ms).
    reconnect_backoff_ms: Annotated[int, Meta(ge=10)] = 100
    reconnect_backoff_max_ms: Annotated[int, Meta(ge=10)] = 10_000


class Delivery(Base, kw_only=True, frozen=True):
    """How much may be on its way at once, and how long a graceful stop may take."""

    max_inflight_batches: Annotated[int, Meta(ge=1, le=1024)] = 4
    shutdown_timeout_secs: Annotated[float, Meta(gt=0)] = 30.0
    # A batch on its way for longer than this makes the service not ready
    # (/readyz 503): an output is down or refusing, and nothing moves.
    stuck_after_secs: Annotated[float, Meta(gt=0)] = 60.0


class MetricsServer(Base, kw_only=True, frozen=True):
    """``/metrics``, ``/healthz``, ``/readyz``; served by long-running sources only."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: Port = 9464


class Config(Base, kw_only=True, frozen=True):
    """The whole pipeline config.

    ``policy`` is a path relative to the config file; without it the bundled
    default policy is used. ``policy_lenient`` loads it the way kube-apiserver
    does (unknown fields dropped with a warning) instead of refusing it.
    Without ``sources`` the bundled sample is read.
    """

    policy: ConfigPath | None = None
    policy_lenient: bool = False
    enrichment: Enrichment = Enrichment()
    limits: Limits = Limits()
    decoding: Decoding = Decoding()
    kafka: Kafka | None = None
    sources: list[Source] = []
    outputs: list[Output] = []
    default_output: Output = FileOutput(name="default", path="-")
    # Where records that cannot be processed or delivered go, with their reason.
    # None: reported in the log only (source position and reason, not the bytes).
    dead_letters: DeadLetters | None = None
    delivery: Delivery = Delivery()
    metrics: MetricsServer = MetricsServer()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["logfmt", "json"] = "logfmt"


__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "Base",
    "Config",
    "ConfigPath",
    "DeadLetterFile",
    "DeadLetterKafka",
    "DeadLetters",
    "Decoding",
    "Delivery",
    "Enrichment",
    "FileOutput",
    "FileSource",
    "Kafka",
    "KafkaOutput",
    "KafkaSource",
    "Limits",
    "MetricsServer",
    "Output",
    "Port",
    "Positive",
    "Sasl",
    "Secret",
    "Source",
    "Tls",
]
