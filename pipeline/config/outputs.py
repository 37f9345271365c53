"""Outputs and dead letters: one Struct per kind, tagged by ``type``, and the
selectors that route events to outputs."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from .types import Base, ConfigPath, Name, Positive, Secret, TopicName


class SelectorResources(Base, kw_only=True, frozen=True):
    group: str = ""
    resources: list[str] = []
    resourceNames: list[str] = []


class Selector(Base, kw_only=True, frozen=True):
    """Which events go to an output: a policy rule's fields plus ``levels``.

    ``levels`` selects on the applied level (after the policy). Empty lists
    mean "any", as in a policy rule.
    """

    users: list[str] = []
    userGroups: list[str] = []
    verbs: list[str] = []
    resources: list[SelectorResources] = []
    namespaces: list[str] = []
    nonResourceURLs: list[str] = []
    levels: list[Literal["Metadata", "Request", "RequestResponse"]] = []


# ---- outputs ----------------------------------------------------------------


class KafkaOutput(Base, kw_only=True, frozen=True, tag="kafka", tag_field="type"):
    name: Name
    topic: TopicName
    selector: Selector = Selector()


class Rotation(Base, kw_only=True, frozen=True):
    """Rotate as kube-apiserver's log backend does (``--audit-log-max*``, with kube's
    defaults): before a write would take the file past ``max_size_mb`` MiB, it is
    renamed ``<name>-<2006-01-02T15-04-05.000><ext>`` and a new one started; old
    backups are pruned by count and by the time in their name, and optionally gzipped
    (``.gz`` appended) in a background thread."""

    max_size_mb: Annotated[int, Meta(ge=1)] = 100  # --audit-log-maxsize
    max_backups: Annotated[int, Meta(ge=0)] = 100  # --audit-log-maxbackup; 0: keep every backup
    max_age_days: Annotated[int, Meta(ge=0)] = 366  # --audit-log-maxage; 0: no age limit
    compress: bool = False  # --audit-log-compress
    local_time: bool = False  # backup names in local time (kube-apiserver always uses UTC)


class FileOutput(Base, kw_only=True, frozen=True, tag="file", tag_field="type"):
    """JSON lines; ``-`` is standard output. ``mode`` says what happens to an
    existing file: append to it (the default, safe for a restarted service)
    or truncate it first. With ``rotation`` the file is rotated by size, as
    kube-apiserver rotates its audit log (append only).

    A batch is durable once written to the operating system (it survives
    auditpipe crashing, not the machine losing power); ``fsync: true`` flushes
    it to the disk first, which survives a power loss and costs a disk flush
    per batch (milliseconds on SSDs, more on network disks)."""

    name: Name
    path: ConfigPath
    mode: Literal["append", "truncate"] = "append"
    rotation: Rotation | None = None
    fsync: bool = False
    selector: Selector = Selector()


class HttpTls(Base, kw_only=True, frozen=True):
    """HTTPS to the receiver: the CA to trust (default: the system's), and a client
    certificate when the receiver asks for one."""

    ca_file: ConfigPath | None = None
    cert_file: ConfigPath | None = None
    key_file: ConfigPath | None = None
    check_hostname: bool = True


class HttpOutput(Base, kw_only=True, frozen=True, tag="http", tag_field="type"):
    """POSTs of ``audit.k8s.io/v1`` EventLists (Falco's k8saudit webhook:
    ``http://falco:9765/k8s-audit``). A body is durable once answered 2xx; 5xx,
    408, 429 and connection errors are retried with capped exponential backoff
    until they succeed; any other answer dead-letters the body's events
    (``refused``). Events the receiver would drop silently after its 200 (over
    ``max_event_bytes``, no RFC 3339 ``stageTimestamp``) are dead-lettered
    before sending. ``headers`` are sent with every request (for example a
    cluster name for Falco's ``customFieldsHeaders``)."""

    name: Name
    url: Annotated[str, Meta(pattern=r"^https?://")]
    headers: dict[str, Secret] = {}
    tls: HttpTls | None = None
    max_batch_bytes: Positive = 12 * 1024 * 1024  # Falco's webhookMaxBatchSize
    max_event_bytes: Positive = 256 * 1024  # Falco's maxEventSize
    require_stage_timestamp: bool = True  # Falco drops events without one
    max_concurrent_requests: Positive = 4
    timeout_secs: Annotated[float, Meta(gt=0)] = 30.0
    retry_backoff_initial_secs: Annotated[float, Meta(gt=0)] = 0.5
    retry_backoff_max_secs: Annotated[float, Meta(gt=0)] = 30.0
    selector: Selector = Selector()


# ---- dead letters -----------------------------------------------------------


class DeadLetterKafka(Base, kw_only=True, frozen=True, tag="kafka", tag_field="type"):
    """The original record, its key and headers, plus ``auditpipe.*`` headers
    naming the reason, the JSON path and the source position."""

    topic: TopicName = "audit.dead-letter"


class DeadLetterFile(Base, kw_only=True, frozen=True, tag="file", tag_field="type"):
    """The original records, one per line, unchanged (to fix and replay); the
    reasons go to the log."""

    path: ConfigPath
    mode: Literal["append", "truncate"] = "append"
