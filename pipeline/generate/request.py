"""One API request, and its rendering into the audit event of each stage.

A category builder describes a request (:class:`Request`: who, what, level,
bodies, latency); :func:`render` writes the event kube-apiserver's log backend
would write for it at a given stage, as one JSON line in Go struct field order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from .encoding import JSON, go_duration, go_json, micro_time

RECEIVED: Final = "RequestReceived"
STARTED: Final = "ResponseStarted"
COMPLETE: Final = "ResponseComplete"
SLOW_US: Final = 500_000  # apiserver only adds latency annotations to slow requests


# responseStatus values are kept as encoded JSON: most events share one of these three.
OK: Final = '{"metadata":{},"code":200}'
CREATED: Final = '{"metadata":{},"code":201}'
SWITCHING: Final = '{"metadata":{},"code":101}'
BODY_LEVELS: Final = frozenset({"Request", "RequestResponse"})


@dataclass(slots=True)
class Client:
    """Who sends a request: the user, where from, with what, and what the authorizer said.

    The JSON of these fields is encoded once here, because a client sends thousands of requests and
    encoding its user (with bound-token extras) for every event would be most of the generator's time.
    """

    user: JSON
    user_agent: str
    source_ips: list[str]
    annotations: dict[str, str]
    user_json: str = field(init=False)
    origin_json: str = field(init=False)
    annotations_json: str = field(init=False)

    def __post_init__(self) -> None:
        self.user_json = go_json(self.user)
        self.origin_json = f'"sourceIPs":{go_json(self.source_ips)},"userAgent":{go_json(self.user_agent)}'
        self.annotations_json = go_json(self.annotations)


@dataclass(slots=True)
class Request:
    """One API request; :func:`render` turns it into the event of a given stage."""

    client: Client
    level: str
    verb: str
    uri: str
    object_ref: dict[str, str] | None
    status: str = OK  # encoded responseStatus
    latency_us: int = 2_000
    request_body: str | None = None
    response_body: str | None = None
    impersonated: JSON | None = None
    annotations: dict[str, str] | None = None  # overrides client.annotations (forbid, pod-security, ...)


def url_only(ref: dict[str, str]) -> dict[str, str]:
    """The objectRef as known at RequestReceived: nothing is decoded yet, so only what the URL says."""
    return {k: v for k, v in ref.items() if k not in ("uid", "resourceVersion")}


def render(req: Request, audit_id: str, stage: str, received_us: int, stage_us: int) -> bytes:
    """The event of ``req`` at ``stage``, as one JSON line in Go struct field order.

    Built by joining pre-encoded pieces. level, auditID, stage and verb are plain ASCII identifiers and
    need no escaping; everything else goes through :func:`go_json`.
    """
    client = req.client
    parts = [
        '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"',
        req.level,
        '","auditID":"',
        audit_id,
        '","stage":"',
        stage,
        '","requestURI":',
        go_json(req.uri),
        ',"verb":"',
        req.verb,
        '","user":',
        client.user_json,
    ]
    if req.impersonated is not None:
        parts += [',"impersonatedUser":', go_json(req.impersonated)]
    parts += [",", client.origin_json]
    received_only = stage == RECEIVED
    if req.object_ref is not None:
        parts += [',"objectRef":', go_json(url_only(req.object_ref) if received_only else req.object_ref)]
    if not received_only:
        parts += [',"responseStatus":', req.status]
    if stage == COMPLETE:  # bodies only ever travel with the final event, and only at the levels that keep them
        if req.request_body is not None and req.level in BODY_LEVELS:
            parts += [',"requestObject":', req.request_body]
        if req.response_body is not None and req.level == "RequestResponse":
            parts += [',"responseObject":', req.response_body]
    parts += [
        ',"requestReceivedTimestamp":"',
        micro_time(received_us),
        '","stageTimestamp":"',
        micro_time(stage_us),
        '"',
    ]
    if not received_only:  # authorization runs after the RequestReceived event is written
        if stage == COMPLETE and req.verb != "watch" and stage_us - received_us >= SLOW_US:
            merged = {**(req.annotations or client.annotations), **latency_annotations(stage_us - received_us)}
            parts += [',"annotations":', go_json(dict(sorted(merged.items())))]
        elif req.annotations is not None:
            parts += [',"annotations":', go_json(req.annotations)]
        else:
            parts += [',"annotations":', client.annotations_json]
    parts.append("}")
    return "".join(parts).encode()


def authz_annotations(decision: str, reason: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The authorizer's decision and reason (plus ``extra``), as the sorted Go map the event carries."""
    merged = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
    if extra:
        merged.update(extra)
    return dict(sorted(merged.items()))  # a Go map: keys come out sorted


def latency_annotations(total_us: int) -> dict[str, str]:
    """The ``apiserver.latency.k8s.io/*`` annotations of a request that took ``total_us``."""
    # Derived from the latency alone (no RNG), so rendering an event never consumes random numbers.
    total_ns = total_us * 1_000 + (total_us * 7_919) % 1_000
    etcd_ns = 150_000 + (total_us * 104_729) % 9_000_000
    return {
        "apiserver.latency.k8s.io/etcd": go_duration(etcd_ns),
        "apiserver.latency.k8s.io/total": go_duration(total_ns),
    }
