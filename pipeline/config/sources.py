"""Sources: one Struct per kind, tagged by ``type``."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from .types import Base, ConfigPath, Port, Positive, Secret, TopicName


class KafkaSource(Base, kw_only=True, frozen=True, tag="kafka", tag_field="type"):
    """Consume topics in a consumer group; offsets committed once delivered."""

    topics: Annotated[list[TopicName], Meta(min_length=1)] = msgspec.field(default_factory=lambda: ["audit"])
    group_id: Annotated[str, Meta(min_length=1)] = "auditpipe"
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    fetch_max_records: Positive = 2000
    fetch_timeout_ms: Positive = 500
    session_timeout_ms: Positive = 10_000
    heartbeat_interval_ms: Positive = 3_000
    max_poll_interval_ms: Positive = 300_000
    # How soon an input topic created after start (e.g. auto-created by the
    # first Fluent Bit write) is picked up; aiokafka's own default is 5 minutes.
    metadata_max_age_ms: Positive = 10_000
    # How often the topics, the brokers' reachability and the lag (from the
    # committed offsets) are checked, whether or not records are moving.
    check_interval_secs: Annotated[float, Meta(gt=0, le=300)] = 5.0


class FileSource(Base, kw_only=True, frozen=True, tag="file", tag_field="type"):
    """Read JSON-lines files once (plain or gzip; ``-`` is standard input)."""

    paths: Annotated[list[ConfigPath], Meta(min_length=1)]


class WebhookTls(Base, kw_only=True, frozen=True):
    """HTTPS for the webhook. With ``client_ca_file`` every client must present a
    certificate signed by it (the apiserver's ``client-certificate`` from its
    webhook kubeconfig); anything else is refused during the TLS handshake."""

    cert_file: ConfigPath
    key_file: ConfigPath
    client_ca_file: ConfigPath | None = None


class WebhookSource(Base, kw_only=True, frozen=True, tag="webhook", tag_field="type"):
    """The target of kube-apiserver's ``--audit-webhook-config-file``: POSTs of
    EventLists (or single Events), answered 200 once every event is durable.

    The listener is its own (its port, its TLS); ``/metrics`` and the probes stay
    on the metrics server.
    """

    host: str = "0.0.0.0"
    port: Port = 8443
    path: Annotated[str, Meta(pattern=r"^/")] = "/audit"
    tls: WebhookTls | None = None
    # Clients must send `Authorization: Bearer <token>` (the kubeconfig user's `token`); else 401.
    bearer_token: Secret | None = None
    # Larger bodies are answered 413 without being buffered. Default: limits.max_record_bytes,
    # which it may not exceed (a body is one record). kube-apiserver's batches with
    # --audit-webhook-truncate-enabled are at most 10 MiB: raise both to at least that then.
    max_body_bytes: Positive | None = None
    # Requests being processed or delivered at once; more are answered 503 with Retry-After
    # (and sent again by the apiserver). kube-apiserver sends up to 15 batches at once
    # (--audit-webhook-batch-throttle-burst); memory is bounded by this times max_body_bytes.
    max_inflight_requests: Positive = 16
    retry_after_secs: Positive = 1
    # A request whose events are not durable by then is answered 503 (the apiserver retries;
    # its default timeout per request is 30 s, so keep this below).
    ack_timeout_secs: Annotated[float, Meta(gt=0)] = 25.0


class LogSource(Base, kw_only=True, frozen=True, tag="log", tag_field="type"):
    """Follow files as kube-apiserver's log backend writes them (``--audit-log-path``),
    through lumberjack's rotation (renamed backups, gzipped or not), with the read
    position kept in ``checkpoint_path``.

    ``paths`` are live files or glob patterns over live files; rotated backups of a
    followed file are found by lumberjack's naming (``audit-<stamp>.log[.gz]``), and
    a pattern never follows a backup itself. The checkpoint is written only once
    what was read is durable in every output, so a restart (even after kill -9)
    loses nothing. ``start_at`` says where to begin with a file the checkpoint
    does not know, when auditpipe starts: ``beginning`` of the live file (its
    backups are history), its ``end`` (only new events), or the ``oldest`` backup
    (every backup, oldest first, then the live file). Files that appear later are
    read from their start.
    """

    paths: Annotated[list[Annotated[str, Meta(min_length=1, extra={"path": True})]], Meta(min_length=1)]
    checkpoint_path: ConfigPath
    start_at: Literal["beginning", "end", "oldest"] = "beginning"
    # How often files are checked for new lines, rotation and new matches.
    poll_interval_ms: Annotated[int, Meta(ge=10, le=60_000)] = 250
