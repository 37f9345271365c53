"""The pipeline configuration: strict msgspec Structs loaded from YAML.

Unknown keys are errors that name their path (``$.outputs[0].selecter``),
options are snake_case nouns with their unit in the name. Selector fields are
spelled like an audit Policy rule's (``userGroups``, ``nonResourceURLs``) so a
rule can be copied into a selector unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import msgspec

from .errors import ConfigError
from .events import DEFAULT_MAX_RECORD_BYTES


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Every config section: keyword-only, immutable, unknown keys refused."""


class GroupResources(Base, frozen=True):
    group: str = ""
    resources: list[str] = []
    resourceNames: list[str] = []


class Selector(Base, frozen=True):
    """Which events go to an output: a policy rule's fields plus ``levels``.

    ``levels`` selects on the applied level (after the policy). Empty lists
    mean "any", as in a policy rule.
    """

    users: list[str] = []
    userGroups: list[str] = []
    verbs: list[str] = []
    resources: list[GroupResources] = []
    namespaces: list[str] = []
    nonResourceURLs: list[str] = []
    levels: list[Literal["Metadata", "Request", "RequestResponse"]] = []


class Output(Base, frozen=True):
    """A destination. ``topic`` is used by the Kafka service, ``path`` offline
    (``-`` is standard output)."""

    name: str
    topic: str | None = None
    path: str | None = None
    selector: Selector = Selector()


class Enrichment(Base, frozen=True):
    enabled: bool = True
    annotation_prefix: str = "auditpipe.io/"
    cluster_name: str = ""


class Limits(Base, frozen=True):
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES


class Sasl(Base, frozen=True):
    mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    username: str = ""
    password: str = ""


class Tls(Base, frozen=True):
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    check_hostname: bool = True


class Kafka(Base, frozen=True):
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl: Sasl | None = None
    tls: Tls | None = None
    client_id: str = "auditpipe"
    group_id: str = "auditpipe"
    input_topics: list[str] = msgspec.field(default_factory=lambda: ["audit"])
    dead_letter_topic: str = "audit.dead-letter"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    fetch_max_records: int = 2000
    fetch_timeout_ms: int = 500
    max_inflight_batches: int = 4
    producer_linger_ms: int = 5
    producer_max_batch_bytes: int = 1048576
    producer_max_request_bytes: int = 16777216
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "lz4"
    startup_deadline_secs: float = 60.0
    shutdown_timeout_secs: float = 30.0
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    max_poll_interval_ms: int = 300000
    # How soon an input topic created after start (e.g. auto-created by the
    # first Fluent Bit write) is picked up; aiokafka's own default is 5 minutes.
    metadata_max_age_ms: int = 10000


class Metrics(Base, frozen=True):
    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 9464


class Config(Base, frozen=True):
    """The whole pipeline config.

    ``policy`` is a path relative to the config file; without it the bundled
    default policy is used. ``policy_lenient`` loads it the way kube-apiserver
    does (unknown fields dropped with a warning) instead of refusing it.
    """

    policy: str | None = None
    policy_lenient: bool = False
    enrichment: Enrichment = Enrichment()
    limits: Limits = Limits()
    outputs: list[Output] = []
    default_output: Output = Output(name="default", topic="audit.filtered", path="-")
    input_paths: list[str] = []  # offline `run` without kafka: files to read (default: the bundled sample)
    kafka: Kafka | None = None
    metrics: Metrics = Metrics()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def loads(text: str | bytes, source: str = "<config>") -> Config:
    """Decode a YAML config, refusing unknown keys and wrong types.

    Raises
    ------
    ConfigError
        With the file name and the JSON path of the problem.
    """
    try:
        config = msgspec.yaml.decode(text, type=Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    names = [o.name for o in config.outputs] + [config.default_output.name]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: output names must be unique, repeated: {', '.join(dupes)} - at `$.outputs`")
    if config.limits.max_record_bytes <= 0:
        raise ConfigError(f"{source}: Expected a positive number - at `$.limits.max_record_bytes`")
    return config


def load(path: str | Path) -> Config:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config: {exc.strerror}") from None
    config = loads(raw, str(p))
    if config.policy is not None and not Path(config.policy).is_absolute():
        # Relative policy paths are relative to the config file, not the cwd.
        config = msgspec.structs.replace(config, policy=str((p.parent / config.policy).resolve()))
    return config
