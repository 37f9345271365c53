"""Seeded synthetic kube-apiserver audit events, written the way the log backend writes them.

Every event is one compact ``audit.k8s.io/v1`` ``Event`` JSON line (``bytes``, no
trailing newline): top-level keys in Go struct order, MicroTime timestamps
(``2026-11-27T10:00:00.123456Z``), Go's HTML-safe escapes (``\\u0026``, ``\\u003c``,
``\\u003e``), raw UTF-8 (the ``µ`` of latency annotations), map keys sorted as Go
sorts them, random (seeded) UUIDv4 ``auditID`` values and the
``authorization.k8s.io/decision``/``reason`` annotations. The same seed always gives
the same bytes; only :mod:`random`, :mod:`json` and friends from the standard
library are used.

The mix
-------
:data:`MIX` holds the share of *events* in each category; each draw of the stream
emits exactly one event, so the shares hold for any window of a few thousand
events. It is modelled on a busy cluster of 40-120 nodes, where the background
chatter of kubelets and controllers dwarfs what humans do:

``lease`` (29 %)
    Node heartbeats (``update`` of ``coordination.k8s.io`` leases in
    ``kube-node-lease`` by ``system:node:<node>``) and leader election (``get`` /
    ``update`` in ``kube-system`` by kube-controller-manager, kube-scheduler,
    cert-manager, cluster-autoscaler and the apiservers' identity leases).
``controller_read`` (17 %)
    ``get``/``list`` by ``system:serviceaccount:kube-system:*`` controllers,
    the scheduler and in-cluster operators (``deployments/scale`` included).
``nonresource`` (12 %)
    ``get`` of ``/healthz``, ``/livez``, ``/readyz``, ``/version``, ``/api``,
    ``/apis``, ``/openapi/v2``, ``/metrics`` ...; no ``objectRef``; half by
    ``system:anonymous`` (group ``system:unauthenticated``).
``watch`` (8 %)
    Watches by ``system:kube-proxy`` (services, endpoints,
    ``discovery.k8s.io`` endpointslices), controllers and kubelets; half at
    ``ResponseStarted`` (new watch), half at ``ResponseComplete`` (a watch that
    started 5-10 minutes earlier ends). Never any body, whatever the level.
``secret_configmap`` (8 %)
    Secrets (always at Metadata) and configmaps (reads at Metadata, writes at
    Request/RequestResponse with 1-14 KB of ``data``), in ``kube-system`` and in
    app namespaces such as ``prod`` and ``staging``.
``event_create`` (7 %)
    Core ``events`` created (and a few patched) by kubelets, ``events.k8s.io``
    events by the scheduler; mostly at Request, with the Event as requestObject.
``node_status`` (6 %)
    ``patch`` of ``nodes/status`` by ``system:node:*`` (group ``system:nodes``);
    the strategic-merge patch body (heartbeat conditions, sometimes the image
    list) at Request.
``pod_write`` (6 %)
    Pod ``create`` by the replicaset-controller, full ``update`` and kubelet
    ``pods/status`` patches, with requestObject/responseObject bodies; full pod
    bodies carry ``metadata.managedFields`` (controller, kubelet status and
    1-2 more managers, with ``fieldsV1``).
``failed`` (5 %)
    403 Forbidden (resource and non-resource, decision ``forbid``), 404
    NotFound and 409 Conflict/AlreadyExists, each with a Failure
    ``responseStatus`` (status, message, reason, details, code).
``impersonated`` (1 %)
    Requests carrying ``impersonatedUser`` (``kubectl --as``, GitOps
    controllers); a tenth of them are refused with 403.
``large`` (0.6 %)
    The 200 KB+ RequestResponse tail: an all-namespaces pod list, a Grafana
    dashboard configmap update, a CRD server-side apply.
``exec`` (0.4 %)
    ``pods/exec`` and ``pods/attach`` ``create``: ``ResponseStarted`` with code
    101 when the stream is hijacked, then ``ResponseComplete`` (same auditID)
    when the session ends seconds to minutes later.

Stages: 4 % of the requests in ``lease``, ``controller_read``,
``secret_configmap``, ``event_create``, ``node_status`` and ``pod_write`` are
logged at ``RequestReceived`` first (no responseStatus, no annotations, no
bodies, no objectRef uid/resourceVersion), and their ``ResponseComplete`` with the
same auditID follows once the request's latency has passed. So
``(auditID, stage)`` is unique, while ``auditID`` alone is not. Bodies only ever
appear at ``ResponseComplete``, ``requestObject`` only at Request or
RequestResponse and only for create/update/patch, ``responseObject`` only at
RequestResponse. Events of requests slower than 500 ms (exec sessions, big lists)
carry ``apiserver.latency.k8s.io/*`` annotations. Timestamps start at
2026-11-27T10:00:00Z and advance by about 1 ms per event (exponential gaps).

Sizes
-----
Measured for ``make_events(100_000, seed=0)``, in bytes per line: mean 4,170,
median 998, p10 780, p90 1,674, p99 30,289, max 404,192; 417 MB in all, of
which the tail is 51 %. 52.5 % of the lines are under 1 KB, 46.9 % between 1 KB
and 200 KB, and 0.67 % are 200 KB or more. By kind (median in brackets):

* Metadata events (77 % of all): 550-1,600 bytes (992). Users with bound-token
  ``extra`` and long RBAC reasons make the 1-1.6 KB ones.
* Events with bodies: kubelet Events 0.9-3.2 KB (1.6 KB), node status patches
  1.3-12 KB (1.3 KB; the image list makes the big ones), pod status patches
  1.7-2.5 KB, ConfigMap creates and updates 2.4-29 KB (9 KB), pod creates
  3-26 KB (13 KB), pod updates 8.5-42 KB (19 KB).
* The tail (the ``large`` category, always RequestResponse): all-namespaces
  PodList responses, dashboard ConfigMap updates and CRD applies, 225-405 KB.

Generating 100,000 events takes about 1.8 s on one core (AMD EPYC). Each seed
precomputes its cluster (nodes, apps, clients, pre-encoded user JSON) and turns
every body into a JSON template with named holes. So an event costs a few
string joins plus one small JSON encode for its objectRef, while the RNG still
varies names, namespaces, uids, resource versions and timestamps.
"""

from __future__ import annotations

import bisect
import calendar
import heapq
import itertools
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

__all__ = ["MIX", "VOCABULARY", "Vocabulary", "iter_events", "make_events"]

MIX: Final[dict[str, float]] = {
    "lease": 0.29,
    "controller_read": 0.17,
    "nonresource": 0.12,
    "watch": 0.08,
    "secret_configmap": 0.08,
    "event_create": 0.07,
    "node_status": 0.06,
    "pod_write": 0.06,
    "failed": 0.05,
    "impersonated": 0.01,
    "large": 0.006,
    "exec": 0.004,
}

JSON = dict[str, Any]

# --------------------------------------------------------------------------
# Fixed vocabulary. Seed-independent, so that policy generators (bench/data.py)
# can tell names that occur in the stream from names that never do.
# --------------------------------------------------------------------------

_K8S_VERSION: Final = "v1.31.2"
_K8S_COMMIT: Final = "5864a4677267e6adeae276ad85882a8714d69d9d"

# ServiceAccounts kube-controller-manager uses with --use-service-account-credentials.
_KCM_CONTROLLERS: Final = (
    "attachdetach-controller", "cronjob-controller", "daemon-set-controller", "deployment-controller",
    "disruption-controller", "endpoint-controller", "endpointslice-controller", "generic-garbage-collector",
    "horizontal-pod-autoscaler", "job-controller", "namespace-controller", "node-controller",
    "persistent-volume-binder", "pvc-protection-controller", "replicaset-controller",
    "resourcequota-controller", "service-account-controller", "statefulset-controller",
    "ttl-after-finished-controller",
)

# In-cluster operators: (namespace, serviceaccount, user agent).
_OPERATORS: Final = (
    ("cert-manager", "cert-manager", "cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/1e3d51a"),
    ("argocd", "argocd-application-controller", "argocd-application-controller/v2.12.4 (linux/amd64)"),
    ("monitoring", "prometheus-k8s", "Prometheus/2.54.1"),
    ("kube-system", "cluster-autoscaler", "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/unknown"),
    ("kube-system", "metrics-server", "metrics-server/v0.7.2 (linux/amd64) kubernetes/unknown"),
)

_APP_NAMESPACES: Final = ("prod", "staging", "team-data", "team-web", "default")
_SYSTEM_NAMESPACES: Final = ("kube-system", "kube-node-lease", "kube-public", "monitoring", "cert-manager", "argocd")
_APPS: Final = (
    "checkout", "payments", "cart", "frontend", "search", "orders", "inventory", "auth", "notifications",
    "recommendations", "shipping", "catalog", "reviews", "billing", "gateway", "ledger",
)

# (username, groups, user-agent platform) of the people and pipelines that use kubectl.
_HUMANS: Final = (
    ("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated"), "linux/amd64"),
    ("alice@example.com", ("oidc:platform-team", "system:authenticated"), "darwin/arm64"),
    ("bob@example.com", ("oidc:dev-team", "system:authenticated"), "darwin/arm64"),
    ("carol@example.com", ("oidc:dev-team", "oidc:oncall", "system:authenticated"), "linux/amd64"),
)

_NONRESOURCE_ANON: Final = ("/healthz", "/livez", "/readyz", "/version", "/readyz?verbose", "/livez?verbose")
_NONRESOURCE_DISCOVERY: Final = ("/api", "/apis", "/openapi/v2", "/openapi/v3", "/version", "/apis/apps/v1")
# What anonymous scanners probe (all refused with 403); two are resource URLs.
_SCANNED: Final = ("/metrics", "/logs/", "/debug/pprof/", "/api/v1/namespaces/kube-system/secrets", "/.env",
                   "/apis/apps/v1/deployments?x=<script>")

# What people and workloads are refused (resource, group, namespace), and what is read through impersonation.
_FORBIDDEN: Final = (("secrets", "", "kube-system"), ("nodes", "", ""),
                     ("clusterrolebindings", "rbac.authorization.k8s.io", ""), ("deployments", "apps", "kube-system"),
                     ("secrets", "", "prod"))
_IMPERSONATED: Final = (("pods", ""), ("deployments", "apps"), ("services", ""), ("configmaps", ""))

# (controller, group, version, resource, namespaced, subresource) that controller_read draws from. It
# never reads leases, events, secrets or configmaps: other categories own those.
_READS: Final = (
    ("replicaset-controller", "apps", "v1", "replicasets", True, ""),
    ("replicaset-controller", "", "v1", "pods", True, ""),
    ("deployment-controller", "apps", "v1", "deployments", True, ""),
    ("deployment-controller", "apps", "v1", "replicasets", True, ""),
    ("endpointslice-controller", "", "v1", "services", True, ""),
    ("endpointslice-controller", "discovery.k8s.io", "v1", "endpointslices", True, ""),
    ("endpoint-controller", "", "v1", "endpoints", True, ""),
    ("job-controller", "batch", "v1", "jobs", True, ""),
    ("cronjob-controller", "batch", "v1", "cronjobs", True, ""),
    ("daemon-set-controller", "apps", "v1", "daemonsets", True, ""),
    ("daemon-set-controller", "", "v1", "nodes", False, ""),
    ("statefulset-controller", "apps", "v1", "statefulsets", True, ""),
    ("statefulset-controller", "", "v1", "persistentvolumeclaims", True, ""),
    ("generic-garbage-collector", "apps", "v1", "replicasets", True, ""),
    ("generic-garbage-collector", "", "v1", "pods", True, ""),
    ("resourcequota-controller", "", "v1", "resourcequotas", True, ""),
    ("horizontal-pod-autoscaler", "autoscaling", "v2", "horizontalpodautoscalers", True, ""),
    ("horizontal-pod-autoscaler", "apps", "v1", "deployments", True, "scale"),
    ("node-controller", "", "v1", "nodes", False, ""),
    ("pvc-protection-controller", "", "v1", "persistentvolumeclaims", True, ""),
    ("attachdetach-controller", "storage.k8s.io", "v1", "volumeattachments", False, ""),
    ("attachdetach-controller", "storage.k8s.io", "v1", "csinodes", False, ""),
    ("persistent-volume-binder", "", "v1", "persistentvolumes", False, ""),
    ("service-account-controller", "", "v1", "serviceaccounts", True, ""),
    ("disruption-controller", "policy", "v1", "poddisruptionbudgets", True, ""),
    ("namespace-controller", "", "v1", "namespaces", False, ""),
    ("ttl-after-finished-controller", "batch", "v1", "jobs", True, ""),
    ("kube-scheduler", "", "v1", "pods", True, ""),
    ("kube-scheduler", "storage.k8s.io", "v1", "csinodes", False, ""),
    ("cert-manager", "cert-manager.io", "v1", "certificates", True, ""),
    ("cert-manager", "cert-manager.io", "v1", "certificaterequests", True, ""),
    ("argocd-application-controller", "argoproj.io", "v1alpha1", "applications", True, ""),
    ("argocd-application-controller", "apps", "v1", "deployments", True, ""),
    ("prometheus-k8s", "", "v1", "services", True, ""),
    ("prometheus-k8s", "monitoring.coreos.com", "v1", "servicemonitors", True, ""),
    ("cluster-autoscaler", "", "v1", "nodes", False, ""),
    ("cluster-autoscaler", "policy", "v1", "poddisruptionbudgets", True, ""),
    ("metrics-server", "", "v1", "nodes", False, ""),
)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Names that occur in the generated stream (nodes aside, whose names are per seed)."""

    users: tuple[str, ...]
    groups: tuple[str, ...]
    namespaces: tuple[str, ...]
    verbs: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]  # (apiGroup, resource or resource/subresource)
    paths: tuple[str, ...]  # non-resource URL paths, no query


def _build_vocabulary() -> Vocabulary:
    operators = tuple(f"system:serviceaccount:{ns}:{sa}" for ns, sa, _ in _OPERATORS)
    controllers = tuple(f"system:serviceaccount:kube-system:{sa}" for sa in _KCM_CONTROLLERS)
    users = (
        "system:kube-proxy", "system:kube-controller-manager", "system:kube-scheduler", "system:apiserver",
        "system:anonymous", *controllers, *operators, *(h[0] for h in _HUMANS),
        "system:serviceaccount:argocd:argocd-server", "system:serviceaccount:ci:deployer",
    )
    sa_groups = {f"system:serviceaccounts:{ns}" for ns, _, _ in _OPERATORS} | {
        "system:serviceaccounts:kube-system", "system:serviceaccounts:argocd", "system:serviceaccounts:ci"}
    groups = (
        "system:authenticated", "system:unauthenticated", "system:nodes", "system:masters",
        "system:serviceaccounts", *sorted(sa_groups),
        *sorted({g for h in _HUMANS for g in h[1]} - {"system:authenticated"}),
    )
    resources = {(r[1], r[3] + (f"/{r[5]}" if r[5] else "")) for r in _READS}
    resources |= {(group, resource) for resource, group, _ in _FORBIDDEN}
    resources |= {(group, resource) for resource, group in _IMPERSONATED}
    resources |= {
        ("coordination.k8s.io", "leases"), ("", "nodes/status"), ("", "events"), ("events.k8s.io", "events"),
        ("", "pods"), ("", "pods/status"), ("", "pods/exec"), ("", "pods/attach"), ("", "secrets"),
        ("", "configmaps"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }
    paths = {p.split("?")[0] for p in (*_NONRESOURCE_ANON, *_NONRESOURCE_DISCOVERY, *_SCANNED)
             if not p.startswith(("/api/", "/apis/apps/v1/"))}
    return Vocabulary(
        users=users,
        groups=groups,
        namespaces=(*_APP_NAMESPACES, *_SYSTEM_NAMESPACES),
        verbs=("get", "list", "watch", "create", "update", "patch", "delete"),
        resources=tuple(sorted(resources)),
        paths=tuple(sorted(paths)),
    )


VOCABULARY: Final = _build_vocabulary()

# --------------------------------------------------------------------------
# Wire encoding
# --------------------------------------------------------------------------

_EPOCH_US: Final = calendar.timegm((2026, 11, 27, 10, 0, 0, 0, 0, 0)) * 1_000_000
_MEAN_GAP_US: Final = 1_000.0  # ~1,000 events/s: a busy cluster's audit log
_P_REQUEST_RECEIVED: Final = 0.04
_PAIRED: Final = frozenset(
    {"lease", "controller_read", "secret_configmap", "event_create", "node_status", "pod_write"}
)
_SLOW_US: Final = 500_000  # apiserver only adds latency annotations to slow requests

_RECEIVED: Final = "RequestReceived"
_STARTED: Final = "ResponseStarted"
_COMPLETE: Final = "ResponseComplete"

# Go's encoding/json writes compact JSON, raw UTF-8 and these HTML-safe escapes. They can only occur inside
# strings, so replacing them in the encoded text is exact.
_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_GO_ESCAPES: Final = (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                      ("\u2029", "\\u2029"))


def _go_json(value: object) -> str:
    text = _ENCODER.encode(value)
    for raw, escaped in _GO_ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


@lru_cache(maxsize=4096)
def _second(sec: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))


def _micro_time(us: int) -> str:
    """metav1.MicroTime: UTC, always six fractional digits."""
    sec, frac = divmod(us, 1_000_000)
    return f"{_second(sec)}.{frac:06d}Z"


def _time(us: int) -> str:
    """metav1.Time: UTC, whole seconds."""
    return f"{_second(us // 1_000_000)}Z"


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:0{len(str(unit)) - 1}d}".rstrip("0")


def _go_duration(ns: int) -> str:
    """Format nanoseconds like Go's ``time.Duration.String()``: ``561.927µs``, ``7.85594907s``, ``1m2.5s``."""
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return _decimal(ns, 1_000) + "µs"
    if ns < 1_000_000_000:
        return _decimal(ns, 1_000_000) + "ms"
    minutes, rest = divmod(ns, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000) + "s"
    if not minutes:
        return seconds
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{seconds}"


def _annotations(decision: str, reason: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    merged = {"authorization.k8s.io/decision": decision, "authorization.k8s.io/reason": reason}
    if extra:
        merged.update(extra)
    return dict(sorted(merged.items()))  # a Go map: keys come out sorted


def _latency_annotations(total_us: int) -> dict[str, str]:
    # Derived from the latency alone (no RNG), so rendering an event never consumes random numbers.
    total_ns = total_us * 1_000 + (total_us * 7_919) % 1_000
    etcd_ns = 150_000 + (total_us * 104_729) % 9_000_000
    return {"apiserver.latency.k8s.io/etcd": _go_duration(etcd_ns),
            "apiserver.latency.k8s.io/total": _go_duration(total_ns)}


_SLOT: Final = re.compile(r"@@([a-z_]+)@@")


@dataclass(frozen=True, slots=True)
class _Template:
    """JSON text with named holes (``"@@name@@"`` in the source object).

    Rendering is one ``str.join``, so a 300 KB body costs a copy instead of a JSON encode. Hole values
    must be JSON-string safe (names, uids, IPs, timestamps), which every caller guarantees.
    """

    parts: tuple[str, ...]
    slots: tuple[str, ...]

    @classmethod
    def of(cls, value: object) -> _Template:
        return cls.from_text(_go_json(value))

    @classmethod
    def from_text(cls, text: str) -> _Template:
        pieces = _SLOT.split(text)  # literal, slot, literal, slot, ..., literal
        return cls(tuple(pieces[0::2]), tuple(pieces[1::2]))

    def render(self, values: Mapping[str, str]) -> str:
        out = [self.parts[0]]
        for name, literal in zip(self.slots, self.parts[1:]):
            out.append(values[name])
            out.append(literal)
        return "".join(out)


# --------------------------------------------------------------------------
# Requests and their rendering into per-stage events
# --------------------------------------------------------------------------

# responseStatus values are kept as encoded JSON: most events share one of these three.
_OK: Final = '{"metadata":{},"code":200}'
_CREATED: Final = '{"metadata":{},"code":201}'
_SWITCHING: Final = '{"metadata":{},"code":101}'
_BODY_LEVELS: Final = frozenset({"Request", "RequestResponse"})


@dataclass(slots=True)
class _Client:
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
        self.user_json = _go_json(self.user)
        self.origin_json = f'"sourceIPs":{_go_json(self.source_ips)},"userAgent":{_go_json(self.user_agent)}'
        self.annotations_json = _go_json(self.annotations)


@dataclass(slots=True)
class _Request:
    """One API request; :func:`_render` turns it into the event of a given stage."""

    client: _Client
    level: str
    verb: str
    uri: str
    object_ref: dict[str, str] | None
    status: str = _OK  # encoded responseStatus
    latency_us: int = 2_000
    request_body: str | None = None
    response_body: str | None = None
    impersonated: JSON | None = None
    annotations: dict[str, str] | None = None  # overrides client.annotations (forbid, pod-security, ...)


def _url_only(ref: dict[str, str]) -> dict[str, str]:
    # At RequestReceived nothing is decoded yet, so only what the URL says is known.
    return {k: v for k, v in ref.items() if k not in ("uid", "resourceVersion")}


def _render(req: _Request, audit_id: str, stage: str, received_us: int, stage_us: int) -> bytes:
    """The event of ``req`` at ``stage``, as one JSON line in Go struct field order.

    Built by joining pre-encoded pieces. level, auditID, stage and verb are plain ASCII identifiers and
    need no escaping; everything else goes through :func:`_go_json`.
    """
    client = req.client
    parts = ['{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"', req.level, '","auditID":"', audit_id,
             '","stage":"', stage, '","requestURI":', _go_json(req.uri), ',"verb":"', req.verb, '","user":',
             client.user_json]
    if req.impersonated is not None:
        parts += [',"impersonatedUser":', _go_json(req.impersonated)]
    parts += [",", client.origin_json]
    received_only = stage == _RECEIVED
    if req.object_ref is not None:
        parts += [',"objectRef":', _go_json(_url_only(req.object_ref) if received_only else req.object_ref)]
    if not received_only:
        parts += [',"responseStatus":', req.status]
    if stage == _COMPLETE:  # bodies only ever travel with the final event, and only at the levels that keep them
        if req.request_body is not None and req.level in _BODY_LEVELS:
            parts += [',"requestObject":', req.request_body]
        if req.response_body is not None and req.level == "RequestResponse":
            parts += [',"responseObject":', req.response_body]
    parts += [',"requestReceivedTimestamp":"', _micro_time(received_us), '","stageTimestamp":"',
              _micro_time(stage_us), '"']
    if not received_only:  # authorization runs after the RequestReceived event is written
        if stage == _COMPLETE and req.verb != "watch" and stage_us - received_us >= _SLOW_US:
            merged = {**(req.annotations or client.annotations), **_latency_annotations(stage_us - received_us)}
            parts += [',"annotations":', _go_json(dict(sorted(merged.items())))]
        elif req.annotations is not None:
            parts += [',"annotations":', _go_json(req.annotations)]
        else:
            parts += [',"annotations":', client.annotations_json]
    parts.append("}")
    return "".join(parts).encode()


# --------------------------------------------------------------------------
# Small builders for Kubernetes shapes
# --------------------------------------------------------------------------

_NAME_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String
_WORDS: Final = (
    "cache", "timeout", "retry", "pool", "endpoint", "region", "bucket", "queue", "worker", "shard", "replica",
    "token", "metrics", "tracing", "feature", "limit", "window", "backoff", "batch", "stream", "ledger", "quota",
    "circuit", "breaker", "latency", "budget", "tenant", "session", "upstream", "canary",
)


def _path(group: str, version: str, resource: str, namespace: str = "", name: str = "", sub: str = "") -> str:
    segments = ["/api/v1" if not group else f"/apis/{group}/{version}"]
    if namespace:
        segments.append(f"namespaces/{namespace}")
    segments.append(resource)
    if name:
        segments.append(name)
    if sub:
        segments.append(sub)
    return "/".join(segments)


def _ref(resource: str, namespace: str = "", name: str = "", *, group: str = "", version: str = "v1",
         uid: str = "", rv: str = "", sub: str = "") -> dict[str, str]:
    """objectRef in Go field order, empty fields omitted."""
    ref = {"resource": resource}
    for key, value in (("namespace", namespace), ("name", name), ("uid", uid), ("apiGroup", group),
                       ("apiVersion", version), ("resourceVersion", rv), ("subresource", sub)):
        if value:
            ref[key] = value
    return ref


def _failure(code: int, reason: str, message: str, details: JSON) -> str:
    """An encoded metav1.Status for a failed request."""
    return _go_json({"metadata": {}, "status": "Failure", "message": message, "reason": reason,
                     "details": details, "code": code})


def _kind_of(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def _rbac_reason(binding: str, role: str, subject: str) -> str:
    return f'RBAC: allowed by ClusterRoleBinding "{binding}" of ClusterRole "{role}" to {subject}'


def _agent(binary: str, suffix: str = "", platform: str = "linux/amd64") -> str:
    """client-go's default User-Agent: ``<binary>/<version> (<os>/<arch>) kubernetes/<commit>``."""
    return f"{binary}/{_K8S_VERSION} ({platform}) kubernetes/{_K8S_COMMIT[:7]}{suffix}"


def _system_reason(user: str) -> str:
    return _rbac_reason(user, user, f'User "{user}"')


def _uuid(rng: random.Random) -> str:
    """A random (version 4) UUID from the seeded RNG; uuid.UUID would be 4x slower for the same text."""
    bits = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_CLEAR: Final = ~((0xF << 76) | (0x3 << 62))
_UUID_SET: Final = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _suffix(rng: random.Random, k: int = 5) -> str:
    return "".join(rng.choices(_NAME_ALPHABET, k=k))


def _lognormal_us(rng: random.Random, median_us: float, sigma: float = 0.8) -> int:
    return max(150, int(rng.lognormvariate(0.0, sigma) * median_us))


def _sorted_map(items: Mapping[str, Any]) -> JSON:
    return dict(sorted(items.items()))


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


# fieldsV1 keys list items by these fields (the schema's list-map keys); other lists are atomic.
_LIST_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "containers": ("name",), "env": ("name",), "ports": ("containerPort", "protocol"), "volumes": ("name",),
    "volumeMounts": ("mountPath",), "conditions": ("type",), "ownerReferences": ("uid",), "podIPs": ("ip",),
    "hostIPs": ("ip",),
}


def _fields_v1(obj: Mapping[str, Any]) -> JSON:
    """The managedFields ``fieldsV1`` set for every field present in ``obj`` (sorted, as the apiserver writes it)."""
    return {f"f:{key}": _field_set(key, value) for key, value in sorted(obj.items())}


def _field_set(key: str, value: object) -> JSON:
    if isinstance(value, dict):
        inner = _fields_v1(value)
        return {".": {}, **inner} if inner else {}
    if isinstance(value, list) and key in _LIST_KEYS and all(isinstance(v, dict) for v in value):
        keyed: JSON = {".": {}} if key in ("podIPs", "hostIPs") else {}
        for item in value:
            item_key = json.dumps({k: item[k] for k in _LIST_KEYS[key]}, separators=(",", ":"))
            keyed[f"k:{item_key}"] = {".": {}, **_fields_v1(item)}
        return dict(sorted(keyed.items()))
    return {}


def _managed(manager: str, fields: JSON, *, time_slot: str = "ts", subresource: str = "",
             operation: str = "Update", api_version: str = "v1") -> JSON:
    entry: JSON = {"manager": manager, "operation": operation, "apiVersion": api_version,
                   "time": f"@@{time_slot}@@", "fieldsType": "FieldsV1", "fieldsV1": fields}
    if subresource:
        entry["subresource"] = subresource
    return entry


# --------------------------------------------------------------------------
# Per-seed cluster: nodes, clients, apps, and every body as a template
# --------------------------------------------------------------------------


@dataclass(slots=True)
class _Node:
    name: str
    ip: str
    kubelet: _Client
    kube_proxy: _Client
    lease_uid: str


@dataclass(slots=True)
class _App:
    name: str
    namespaces: tuple[str, ...]
    rs_hash: str
    rs_uid: str
    create_request: _Template
    create_response: _Template
    full: _Template  # a running pod, with several managedFields entries
    status_patch: _Template
    event_bodies: tuple[tuple[_Template, _Template], ...]  # (request, response) of kubelet events


@dataclass(frozen=True, slots=True)
class _Large:
    """One 200 KB+ request of the tail."""

    kind: str  # "podlist", "dashboard" or "crd"
    name: str
    first: _Template  # the PodList response, the ConfigMap, or the CRD apply patch
    second: _Template | None = None  # the CRD as stored


@dataclass(slots=True)
class _ConfigMap:
    name: str
    namespace: str
    uid: str
    create_request: _Template
    full: _Template


class _Cluster:
    """Everything one seed precomputes, and one builder per :data:`MIX` category."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._rv = 48_000_000 + rng.randrange(1_000_000)
        self._seq = itertools.count()
        self._pending: dict[str, list[tuple[int, int, bytes]]] = {name: [] for name in MIX}
        self.region = rng.choice(("eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1"))
        self.control_plane = [f"10.0.0.{10 + i}" for i in range(3)]
        self._make_clients()
        self.nodes = self._make_nodes(rng.randint(40, 120))
        self.apps = [self._make_app(name) for name in _APPS]
        self.image_patches = [self._node_images_patch() for _ in range(4)]
        self.heartbeat_patch = _Template.of(self._heartbeat_status())
        self.configmaps = self._make_configmaps()
        self.large = self._make_large()
        self._builders: dict[str, Callable[[int], _Request]] = {
            "lease": self._lease,
            "controller_read": self._controller_read,
            "nonresource": self._nonresource,
            "secret_configmap": self._secret_configmap,
            "event_create": self._event_create,
            "node_status": self._node_status,
            "pod_write": self._pod_write,
            "failed": self._failed,
            "impersonated": self._impersonated,
            "large": self._large,
        }

    # ---- the stream ----

    def emit(self, category: str, now: int) -> bytes:
        """One event of ``category`` at clock ``now`` (µs since the epoch)."""
        queue = self._pending[category]
        if queue and queue[0][0] <= now:  # a started request of this category is due to complete
            return heapq.heappop(queue)[2]
        if category == "watch":
            return self._watch(now)
        if category == "exec":
            return self._exec(now, queue)
        request = self._builders[category](now)
        audit_id = _uuid(self.rng)
        if category in _PAIRED and self.rng.random() < _P_REQUEST_RECEIVED:
            done = now + request.latency_us
            complete = _render(request, audit_id, _COMPLETE, now, done)
            heapq.heappush(queue, (done, next(self._seq), complete))
            return _render(request, audit_id, _RECEIVED, now, now)
        return _render(request, audit_id, _COMPLETE, now - request.latency_us, now)

    def rv(self) -> str:
        # One cluster-wide etcd revision that only moves forward, as in a real cluster.
        self._rv += self.rng.randint(1, 9)
        return str(self._rv)

    # ---- clients ----

    def _make_clients(self) -> None:
        rng = self.rng
        agent = _agent
        leader_ip = rng.choice(self.control_plane)
        system_reason = _system_reason
        self.kcm = _Client({"username": "system:kube-controller-manager", "groups": ["system:authenticated"]},
                           agent("kube-controller-manager", "/leader-election"), [leader_ip],
                           _annotations("allow", system_reason("system:kube-controller-manager")))
        self.scheduler = _Client({"username": "system:kube-scheduler", "groups": ["system:authenticated"]},
                                 agent("kube-scheduler", "/scheduler"), [rng.choice(self.control_plane)],
                                 _annotations("allow", system_reason("system:kube-scheduler")))
        self.apiservers = [
            (f"apiserver-{_hex(rng, 26)}",
             _Client({"username": "system:apiserver", "uid": _uuid(rng),
                      "groups": ["system:authenticated", "system:masters"]},
                     agent("kube-apiserver"), [ip], _annotations("allow", "")))
            for ip in self.control_plane
        ]
        self.controllers: dict[str, _Client] = {}
        for sa in _KCM_CONTROLLERS:
            self.controllers[sa] = _Client(
                {"username": f"system:serviceaccount:kube-system:{sa}", "uid": _uuid(rng),
                 "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
                agent("kube-controller-manager", f"/system:serviceaccount:kube-system:{sa}"), [leader_ip],
                _annotations("allow", _rbac_reason(f"system:controller:{sa}", f"system:controller:{sa}",
                                                   f'ServiceAccount "{sa}/kube-system"')))
        self.controllers["kube-scheduler"] = self.scheduler
        for namespace, sa, user_agent in _OPERATORS:
            pod = f"{sa}-{_suffix(rng, 10)}-{_suffix(rng)}"
            # Bound projected tokens carry the pod and node they were issued to.
            extra = _sorted_map({
                "authentication.kubernetes.io/credential-id": [f"JTI={_uuid(rng)}"],
                "authentication.kubernetes.io/node-name": [f"ip-10-0-{rng.randrange(256)}-{rng.randrange(256)}"
                                                           f".{self.region}.compute.internal"],
                "authentication.kubernetes.io/node-uid": [_uuid(rng)],
                "authentication.kubernetes.io/pod-name": [pod],
                "authentication.kubernetes.io/pod-uid": [_uuid(rng)],
            })
            self.controllers[sa] = _Client(
                {"username": f"system:serviceaccount:{namespace}:{sa}", "uid": _uuid(rng),
                 "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
                 "extra": extra},
                user_agent, [f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"],
                _annotations("allow", _rbac_reason(sa, sa, f'ServiceAccount "{sa}/{namespace}"')))
        self.argocd_server = _Client(
            {"username": "system:serviceaccount:argocd:argocd-server", "uid": _uuid(rng),
             "groups": ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"]},
            "argocd-server/v2.12.4 (linux/amd64)", [f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"],
            _annotations("allow", _rbac_reason("argocd-server", "argocd-server",
                                               'ServiceAccount "argocd-server/argocd"')))
        self.deployer = _Client(
            {"username": "system:serviceaccount:ci:deployer", "uid": _uuid(rng),
             "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"]},
            "helm/v3.16.2 (linux/amd64) kubernetes/unknown", [f"203.0.113.{rng.randrange(2, 254)}"],
            _annotations("allow", _rbac_reason("ci-deployer", "cluster-admin", 'ServiceAccount "deployer/ci"')))
        self.humans: list[_Client] = []
        for username, groups, platform in _HUMANS:
            office = f"198.51.100.{rng.randrange(2, 254)}"
            # Some people come through a proxy, which puts the X-Forwarded-For chain first.
            ips = [office, f"10.0.0.{rng.randrange(20, 40)}"] if rng.random() < 0.5 else [office]
            reason = _rbac_reason(groups[0], "cluster-admin" if "admin" in groups[0] else "edit",
                                  f'Group "{groups[0]}"')
            self.humans.append(_Client({"username": username, "groups": list(groups)},
                                       agent("kubectl", platform=platform), ips, _annotations("allow", reason)))
        self.anonymous = [
            _Client({"username": "system:anonymous", "groups": ["system:unauthenticated"]}, user_agent, [ip],
                    _annotations("allow", _rbac_reason("system:public-info-viewer", "system:public-info-viewer",
                                                       'Group "system:unauthenticated"')))
            for user_agent, ip in (("kube-probe/1.31", "127.0.0.1"), ("ELB-HealthChecker/2.0", "10.0.1.17"),
                                   ("ELB-HealthChecker/2.0", "10.0.2.44"), ("Go-http-client/1.1", "10.0.0.10"),
                                   ("curl/8.5.0", "203.0.113.9"))
        ]
        # Leader-election leases in kube-system: (name, holder, uid).
        self.leader_leases: list[tuple[str, _Client, str]] = [
            ("kube-controller-manager", self.kcm, _uuid(rng)),
            ("kube-scheduler", self.scheduler, _uuid(rng)),
            ("cert-manager-controller", self.controllers["cert-manager"], _uuid(rng)),
            ("cluster-autoscaler", self.controllers["cluster-autoscaler"], _uuid(rng)),
            *((name, client, _uuid(rng)) for name, client in self.apiservers),
        ]

    def _make_nodes(self, count: int) -> list[_Node]:
        rng = self.rng
        seen: set[str] = set()
        nodes: list[_Node] = []
        while len(nodes) < count:
            ip = f"10.0.{rng.randrange(1, 64)}.{rng.randrange(2, 254)}"
            if ip in seen:
                continue
            seen.add(ip)
            name = f"ip-{ip.replace('.', '-')}.{self.region}.compute.internal"
            kubelet = _Client({"username": f"system:node:{name}", "groups": ["system:nodes", "system:authenticated"]},
                              _agent("kubelet"), [ip], _annotations("allow", ""))
            proxy = _Client({"username": "system:kube-proxy", "groups": ["system:authenticated"]},
                            _agent("kube-proxy"), [ip],
                            _annotations("allow", _rbac_reason("system:node-proxier", "system:node-proxier",
                                                               'User "system:kube-proxy"')))
            nodes.append(_Node(name, ip, kubelet, proxy, _uuid(rng)))
        return nodes

    # ---- bodies ----

    def _container(self, app: str, index: int) -> JSON:
        rng = self.rng
        name = app if index == 0 else rng.choice(("istio-proxy", "log-shipper", "metrics-exporter", "vault-agent"))
        image = f"registry.example.com/shop/{name}:{rng.randint(1, 3)}.{rng.randint(0, 60)}.{rng.randint(0, 9)}"
        port = rng.choice((8080, 8443, 9090, 3000, 5000))
        env: list[JSON] = []
        for i in range(rng.randint(3, 24)):
            key = f"{app.upper()}_{rng.choice(_WORDS).upper()}_{i}"
            if i % 7 == 3:
                env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": f"{app}-secrets", "key": key.lower()}}})
            elif i % 7 == 5:
                env.append({"name": key, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}})
            else:
                env.append({"name": key, "value": rng.choice(("true", "false", "30s", "info", "5", "https://"
                                                              f"{rng.choice(_APPS)}.prod.svc.cluster.local:8443"))})
        probe = {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"}, "timeoutSeconds": 1,
                 "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
        return {
            "name": name, "image": image, "args": [f"--config=/etc/{app}/config.yaml", "--log-format=json"],
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"},
                      {"name": "metrics", "containerPort": 9102, "protocol": "TCP"}],
            "env": env,
            "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
            "volumeMounts": [{"name": "config", "mountPath": f"/etc/{app}"}],
            "livenessProbe": probe, "readinessProbe": probe,
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
            "securityContext": {"runAsNonRoot": True, "readOnlyRootFilesystem": True,
                                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }

    def _make_app(self, name: str) -> _App:
        rng = self.rng
        namespaces = tuple(rng.sample(_APP_NAMESPACES, 2))
        rs_hash = _suffix(rng, 10)
        rs_uid = _uuid(rng)
        containers = [self._container(name, i) for i in range(rng.choice((1, 1, 2, 3)))]
        labels = _sorted_map({"app": name, "pod-template-hash": rs_hash, "version": f"v{rng.randint(1, 9)}",
                              "app.kubernetes.io/part-of": "shop"})
        annotations = _sorted_map({"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
                                   "kubectl.kubernetes.io/restartedAt": "2026-11-20T08:14:03Z"})
        owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-{rs_hash}", "uid": rs_uid,
                  "controller": True, "blockOwnerDeletion": True}]
        token_volume = f"kube-api-access-{_suffix(rng)}"
        volumes: list[JSON] = [{"name": "config", "configMap": {"name": f"{name}-config", "defaultMode": 420}}]
        spec: JSON = {"volumes": volumes, "containers": containers, "restartPolicy": "Always",
                      "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                      "serviceAccountName": name, "serviceAccount": name,
                      "securityContext": {"fsGroup": 2000}, "schedulerName": "default-scheduler",
                      "enableServiceLinks": True}
        request_meta: JSON = {"generateName": f"{name}-{rs_hash}-", "namespace": "@@ns@@",
                              "creationTimestamp": None, "labels": labels, "annotations": annotations,
                              "ownerReferences": owner}
        create_request = _Template.of({"kind": "Pod", "apiVersion": "v1", "metadata": request_meta, "spec": spec,
                                       "status": {}})
        # What admission adds: the projected token volume and mount, tolerations, priority.
        admitted = dict(spec)
        admitted["volumes"] = volumes + [{"name": token_volume, "projected": {"sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                          "fieldPath": "metadata.namespace"}}]}},
        ], "defaultMode": 420}}]
        admitted["containers"] = [
            {**c, "volumeMounts": c["volumeMounts"] + [{"name": token_volume, "readOnly": True,
                                                         "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}
            for c in containers
        ]
        admitted["tolerations"] = [
            {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            for t in ("not-ready", "unreachable")
        ]
        admitted["priority"] = 0
        admitted["preemptionPolicy"] = "PreemptLowerPriority"
        controller_fields = {"f:metadata": _fields_v1({k: request_meta[k] for k in
                                                       ("generateName", "labels", "annotations", "ownerReferences")}),
                             "f:spec": _fields_v1(spec)}
        meta: JSON = {"name": "@@name@@", "generateName": f"{name}-{rs_hash}-", "namespace": "@@ns@@",
                      "uid": "@@uid@@", "resourceVersion": "@@rv@@", "creationTimestamp": "@@ts@@",
                      "labels": labels, "annotations": annotations, "ownerReferences": owner,
                      "managedFields": [_managed("kube-controller-manager", controller_fields)]}
        create_response = _Template.of({"kind": "Pod", "apiVersion": "v1", "metadata": meta,
                                        "spec": admitted,
                                        "status": {"phase": "Pending", "qosClass": "Burstable"}})
        status = self._running_status(containers)
        managed = [_managed("kube-controller-manager", controller_fields),
                   _managed("kubelet", {"f:status": _fields_v1(status)}, time_slot="ts_status",
                            subresource="status")]
        extra_annotations = dict(annotations)
        if rng.random() < 0.6:
            extra_annotations["argocd.argoproj.io/tracking-id"] = f"{name}:apps/Deployment:@@ns@@/{name}"
            managed.append(_managed("argocd-controller", {"f:metadata": {"f:annotations": {
                "f:argocd.argoproj.io/tracking-id": {}}}}, operation="Apply"))
        if rng.random() < 0.5:
            labels_extra = {"team": rng.choice(("checkout", "platform", "data"))}
            managed.append(_managed("kubectl-label", {"f:metadata": {"f:labels": {"f:team": {}}}}))
        else:
            labels_extra = {}
        full_meta = {**meta, "labels": _sorted_map({**labels, **labels_extra}),
                     "annotations": _sorted_map(extra_annotations), "managedFields": managed}
        full = _Template.of({"kind": "Pod", "apiVersion": "v1", "metadata": full_meta,
                             "spec": {**admitted, "nodeName": "@@node@@"}, "status": status})
        status_patch = _Template.of({"metadata": {"uid": "@@uid@@"}, "status": {
            "$setElementOrder/conditions": [{"type": c["type"]} for c in status["conditions"]],
            "conditions": [{"lastTransitionTime": "@@ts_status@@", "status": "True", "type": t}
                           for t in ("ContainersReady", "Ready")],
            "containerStatuses": status["containerStatuses"]}})
        return _App(name, namespaces, rs_hash, rs_uid, create_request, create_response, full, status_patch,
                    self._kubelet_events(name, containers[0]))

    def _running_status(self, containers: Sequence[JSON]) -> JSON:
        rng = self.rng
        conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": "@@ts_status@@"}
                      for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                "PodScheduled")]
        statuses = [{"name": c["name"], "state": {"running": {"startedAt": "@@ts@@"}}, "lastState": {},
                     "ready": True, "restartCount": rng.choice((0, 0, 0, 1, 4)), "image": c["image"],
                     "imageID": f"{c['image'].rsplit(':', 1)[0]}@sha256:{_hex(rng, 64)}",
                     "containerID": f"containerd://{_hex(rng, 64)}", "started": True}
                    for c in containers]
        return {"phase": "Running", "conditions": conditions, "hostIP": "@@host_ip@@",
                "hostIPs": [{"ip": "@@host_ip@@"}], "podIP": "@@pod_ip@@", "podIPs": [{"ip": "@@pod_ip@@"}],
                "startTime": "@@ts@@", "containerStatuses": statuses, "qosClass": "Burstable"}

    def _kubelet_events(self, app: str, container: JSON) -> tuple[tuple[_Template, _Template], ...]:
        reasons = (
            ("Normal", "Pulled", f'Container image "{container["image"]}" already present on machine'),
            ("Normal", "Created", f"Created container {container['name']}"),
            ("Normal", "Started", f"Started container {container['name']}"),
            ("Normal", "Killing", f"Stopping container {container['name']}"),
            ("Warning", "Unhealthy", 'Readiness probe failed: Get "http://@@pod_ip@@:8080/healthz": context '
                                     "deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
            ("Warning", "BackOff", f"Back-off restarting failed container {container['name']} in pod "
                                   f"@@pod@@_@@ns@@(@@pod_uid@@)"),
        )
        out = []
        for kind, reason, message in reasons:
            body: JSON = {
                "kind": "Event", "apiVersion": "v1",
                "metadata": {"name": "@@name@@", "namespace": "@@ns@@", "creationTimestamp": None},
                "involvedObject": {"kind": "Pod", "namespace": "@@ns@@", "name": "@@pod@@", "uid": "@@pod_uid@@",
                                   "apiVersion": "v1", "resourceVersion": "@@pod_rv@@",
                                   "fieldPath": f"spec.containers{{{container['name']}}}"},
                "reason": reason, "message": message,
                "source": {"component": "kubelet", "host": "@@node@@"},
                "firstTimestamp": "@@ts@@", "lastTimestamp": "@@ts@@", "count": 1, "type": kind,
                "eventTime": None, "reportingComponent": "kubelet", "reportingInstance": "@@node@@",
            }
            response = dict(body)
            response["metadata"] = {"name": "@@name@@", "namespace": "@@ns@@", "uid": "@@uid@@",
                                    "resourceVersion": "@@rv@@", "creationTimestamp": "@@ts@@",
                                    "managedFields": [_managed("kubelet", _fields_v1(
                                        {k: v for k, v in body.items()
                                         if v is not None and k not in ("kind", "apiVersion", "metadata")}))]}
            out.append((_Template.of(body), _Template.of(response)))
        return tuple(out)

    def _heartbeat_status(self) -> JSON:
        types = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
        return {"status": {"$setElementOrder/conditions": [{"type": t} for t in types],
                           "conditions": [{"lastHeartbeatTime": "@@ts@@", "type": t} for t in types]}}

    def _node_images_patch(self) -> _Template:
        rng = self.rng
        patch = self._heartbeat_status()
        images = []
        for _ in range(rng.randint(25, 70)):
            repo = f"registry.example.com/{rng.choice(('shop', 'platform', 'data'))}/{rng.choice(_APPS)}"
            images.append({"names": [f"{repo}@sha256:{_hex(rng, 64)}", f"{repo}:{rng.randint(1, 3)}."
                                                                        f"{rng.randint(0, 60)}.{rng.randint(0, 9)}"],
                           "sizeBytes": rng.randint(5_000_000, 900_000_000)})
        patch["status"]["images"] = images
        return _Template.of(patch)

    def _config_text(self, target: int) -> str:
        """Plausible config file text (YAML, nginx, XML) of about ``target`` characters."""
        rng = self.rng
        style = rng.choice(("yaml", "nginx", "xml"))
        lines: list[str] = []
        size = 0
        while size < target:
            a, b = rng.choice(_WORDS), rng.choice(_WORDS)
            if style == "yaml":
                line = f"{a}.{b}.{rng.choice(_WORDS)}: {rng.choice(('true', '30s', str(rng.randint(1, 9999))))}"
            elif style == "nginx":
                line = (f"location /{a}/{b} {{ proxy_pass http://{rng.choice(_APPS)}.prod.svc:8080; "
                        f"proxy_set_header X-{a.capitalize()} $http_{b}; }}")
            else:
                line = f'  <logger name="com.example.{a}.{b}" level="{rng.choice(("INFO", "DEBUG", "WARN"))}"/>'
            lines.append(line)
            size += len(line) + 1
        return "\n".join(lines) + "\n"

    def _configmap(self, name: str, namespace: str, data: JSON, manager: str) -> _ConfigMap:
        rng = self.rng
        uid = _uuid(rng)
        labels = _sorted_map({"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/name": name})
        request = {"kind": "ConfigMap", "apiVersion": "v1",
                   "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None, "labels": labels},
                   "data": _sorted_map(data)}
        meta = {"name": name, "namespace": namespace, "uid": "@@uid@@", "resourceVersion": "@@rv@@",
                "creationTimestamp": "@@ts@@", "labels": labels,
                "managedFields": [_managed(manager, {"f:data": _fields_v1(data),
                                                    "f:metadata": {"f:labels": _fields_v1(labels)}})]}
        full = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, "data": _sorted_map(data)}
        return _ConfigMap(name, namespace, uid, _Template.of(request), _Template.of(full))

    def _make_configmaps(self) -> list[_ConfigMap]:
        rng = self.rng
        maps = [self._configmap("cluster-autoscaler-status", "kube-system",
                                {"status": self._config_text(rng.randint(1_500, 3_000))}, "cluster-autoscaler")]
        for app in rng.sample(_APPS, 11):
            namespace = rng.choice(_APP_NAMESPACES[:3])
            # Sizes log-uniform from 0.8 to 14 KB: most config maps are small, a few carry whole files.
            size = int(800 * (14_000 / 800) ** rng.random())
            maps.append(self._configmap(f"{app}-config", namespace, {"config.yaml": self._config_text(size)},
                                        "helm"))
        return maps

    def _make_large(self) -> list[_Large]:
        rng = self.rng
        out: list[_Large] = []
        for _ in range(3):  # kubectl get pods -A -o yaml: one huge PodList response
            items: list[str] = []
            size, target = 0, rng.randint(210_000, 440_000)
            while size < target:
                app = rng.choice(self.apps)
                values = self._pod_values(app, rng.choice(app.namespaces), _EPOCH_US, rng.choice(self.nodes))
                items.append(app.full.render(values))
                size += len(items[-1])
            text = '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"@@rv@@"},"items":[' \
                   + ",".join(items) + "]}"
            out.append(_Large("podlist", "", _Template.from_text(text)))
        for _ in range(3):  # a Grafana dashboard kept in a ConfigMap, updated by the GitOps controller
            name = f"grafana-dashboard-{rng.choice(_APPS)}"
            cm = self._configmap(name, "monitoring", {f"{name}.json": self._dashboard(rng.randint(105_000, 200_000))},
                                 "argocd-controller")
            out.append(_Large("dashboard", name, cm.full))
        for _ in range(2):  # a CRD with a big openAPIV3Schema, server-side applied
            request, response = self._crd(rng.randint(105_000, 180_000))
            out.append(_Large("crd", "storefronts.shop.example.com", request, response))
        for large in out:  # the tail is defined by size: make sure every member is in it
            body = sum(len(p) for p in large.first.parts) * (2 if large.kind == "dashboard" else 1)
            body += sum(len(p) for p in large.second.parts) if large.second is not None else 0
            if body < 205_000:
                raise AssertionError(f"large {large.kind} body is only {body} characters")
        return out

    def _dashboard(self, target: int) -> str:
        """A pretty-printed Grafana dashboard whose text, once JSON-escaped, is at least ``target`` long."""
        rng = self.rng
        panels: list[JSON] = []
        estimate = 0
        while True:
            while estimate < target:
                panels.append(self._panel(len(panels)))
                dumped = json.dumps(panels[-1], indent=2)
                # In the whole document every panel line sits 4 spaces deeper; escaping adds the rest.
                estimate += len(_go_json(dumped)) + 4 * (dumped.count("\n") + 1)
            text = json.dumps({"title": "Service overview", "uid": _hex(rng, 9), "panels": panels}, indent=2)
            estimate = len(_go_json(text))
            if estimate >= target:
                return text

    def _panel(self, index: int) -> JSON:
        rng = self.rng
        app, metric = rng.choice(_APPS), rng.choice(_WORDS)
        return {
            "id": index + 1, "type": rng.choice(("timeseries", "stat", "heatmap")),
            "title": f"{app} {metric} <p99>",
            "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
            "targets": [{"expr": f'histogram_quantile(0.99, sum(rate({metric}_seconds_bucket{{namespace="prod",'
                                 f'app="{app}"}}[5m])) by (le, pod))', "legendFormat": "{{pod}}", "refId": "A"}],
            "fieldConfig": {"defaults": {"unit": "s", "thresholds": {"mode": "absolute", "steps": [
                {"color": "green", "value": None}, {"color": "red", "value": 0.5}]}}, "overrides": []},
        }

    def _crd(self, target: int) -> tuple[_Template, _Template]:
        rng = self.rng
        properties: JSON = {}
        size = 0
        while size < target:
            name = f"{rng.choice(_WORDS)}{rng.choice(_WORDS).capitalize()}{len(properties)}"
            prop: JSON = {"description": _sentence(rng, rng.randint(12, 40)), "type": "object", "properties": {
                f"{w}": {"description": _sentence(rng, rng.randint(6, 20)),
                         "type": rng.choice(("string", "integer", "boolean"))}
                for w in rng.sample(_WORDS, rng.randint(3, 8))}}
            properties[name] = prop
            size += len(json.dumps(prop))
        group = "shop.example.com"
        spec = {"group": group, "names": {"kind": "Storefront", "listKind": "StorefrontList",
                                          "plural": "storefronts", "singular": "storefront"},
                "scope": "Namespaced", "versions": [{"name": "v1", "served": True, "storage": True,
                                                     "schema": {"openAPIV3Schema": {
                                                         "type": "object", "properties": {"spec": {
                                                             "type": "object", "properties": properties}}}}}]}
        request = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                   "metadata": {"name": f"storefronts.{group}"}, "spec": spec}
        response = {"kind": "CustomResourceDefinition", "apiVersion": "apiextensions.k8s.io/v1",
                    "metadata": {"name": f"storefronts.{group}", "uid": "@@uid@@", "resourceVersion": "@@rv@@",
                                 "generation": 7, "creationTimestamp": "@@ts@@",
                                 "managedFields": [_managed("argocd-controller", {"f:spec": {".": {}}},
                                                            operation="Apply",
                                                            api_version="apiextensions.k8s.io/v1")]},
                    "spec": {**spec, "conversion": {"strategy": "None"}},
                    "status": {"conditions": [{"type": "Established", "status": "True",
                                               "lastTransitionTime": "@@ts@@", "reason": "InitialNamesAccepted",
                                               "message": "the initial names have been accepted"}],
                               "acceptedNames": spec["names"], "storedVersions": ["v1"]}}
        return _Template.of(request), _Template.of(response)

    # ---- per-event values ----

    def _pod_name(self, app: _App) -> str:
        return f"{app.name}-{app.rs_hash}-{_suffix(self.rng)}"

    def _pod_values(self, app: _App, namespace: str, now: int, node: _Node) -> dict[str, str]:
        rng = self.rng
        created = now - rng.randrange(60, 30 * 86_400) * 1_000_000
        return {"name": self._pod_name(app), "ns": namespace, "uid": _uuid(rng), "rv": self.rv(),
                "ts": _time(created), "ts_status": _time(created + rng.randrange(5, 120) * 1_000_000),
                "node": node.name, "host_ip": node.ip, "pod_ip": f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"}

    def _pick_human(self) -> _Client:
        return self.rng.choice(self.humans)

    # ---- categories ----

    def _lease(self, now: int) -> _Request:
        rng = self.rng
        if rng.random() < 0.75:  # every kubelet renews its Lease every 10 s: the commonest write of all
            node = rng.choice(self.nodes)
            ref = _ref("leases", "kube-node-lease", node.name, group="coordination.k8s.io", uid=node.lease_uid,
                       rv=self.rv())
            uri = _path("coordination.k8s.io", "v1", "leases", "kube-node-lease", node.name) + "?timeout=10s"
            return _Request(node.kubelet, "Metadata", "update", uri, ref, latency_us=_lognormal_us(rng, 3_000))
        # Leader election: the holder renews (update), the other candidates only look (get).
        name, client, uid = rng.choice(self.leader_leases)
        verb = rng.choice(("get", "update"))
        ref = _ref("leases", "kube-system", name, group="coordination.k8s.io")
        if verb == "update":
            ref = _ref("leases", "kube-system", name, group="coordination.k8s.io", uid=uid, rv=self.rv())
        uri = _path("coordination.k8s.io", "v1", "leases", "kube-system", name) + "?timeout=5s"
        return _Request(client, "Metadata", verb, uri, ref, latency_us=_lognormal_us(rng, 2_500))

    def _object_name(self, resource: str) -> str:
        rng = self.rng
        app = rng.choice(self.apps)
        if resource in ("nodes", "csinodes"):
            return rng.choice(self.nodes).name
        if resource == "pods":
            return self._pod_name(app)
        if resource == "replicasets":
            return f"{app.name}-{app.rs_hash}"
        if resource in ("persistentvolumeclaims", "persistentvolumes"):
            return f"data-{app.name}-{rng.randrange(3)}" if resource == "persistentvolumeclaims" \
                else f"pvc-{_uuid(rng)}"
        if resource == "volumeattachments":
            return f"csi-{_hex(rng, 64)}"
        if resource == "namespaces":
            return rng.choice(_APP_NAMESPACES)
        if resource == "jobs":
            return f"{app.name}-migrate-{rng.randrange(28_000_000, 29_000_000)}"
        return app.name

    def _controller_read(self, now: int) -> _Request:
        rng = self.rng
        sa, group, version, resource, namespaced, sub = rng.choice(_READS)
        client = self.controllers[sa]
        namespace = rng.choice(rng.choice(self.apps).namespaces) if namespaced else ""
        if sub or rng.random() < 0.6:
            name = self._object_name(resource)
            uri = _path(group, version, resource, namespace, name, sub)
            # requestinfo gives a Namespace object its own name as namespace.
            ref_namespace = name if resource == "namespaces" else namespace
            return _Request(client, "Metadata", "get", uri,
                            _ref(resource, ref_namespace, name, group=group, version=version, sub=sub),
                            latency_us=_lognormal_us(rng, 1_800))
        if namespaced and rng.random() < 0.3:
            namespace = ""  # an all-namespaces list
        if namespace and rng.random() < 0.5:
            query = f"?labelSelector=app%3D{rng.choice(_APPS)}"
        else:
            query = "?limit=500&resourceVersion=0"  # client-go's initial list, served from the watch cache
        uri = _path(group, version, resource, namespace) + query
        return _Request(client, rng.choice(("Metadata", "Metadata", "Request")), "list", uri,
                        _ref(resource, namespace, group=group, version=version), latency_us=_lognormal_us(rng, 6_000))

    def _nonresource(self, now: int) -> _Request:
        rng = self.rng
        draw = rng.random()
        if draw < 0.5:  # load balancers and probes polling health endpoints anonymously
            client, path = rng.choice(self.anonymous), rng.choice(_NONRESOURCE_ANON)
        elif draw < 0.65:  # Prometheus scraping the apiserver
            client, path = self.controllers["prometheus-k8s"], "/metrics"
        elif draw < 0.85:  # client-go discovery from controllers
            client = self.controllers[rng.choice(_KCM_CONTROLLERS)]
            path = rng.choice(_NONRESOURCE_DISCOVERY) + "?timeout=32s"
        else:  # kubectl's discovery
            client, path = self._pick_human(), rng.choice(_NONRESOURCE_DISCOVERY) + "?timeout=32s"
        return _Request(client, "Metadata", "get", path, None, latency_us=_lognormal_us(rng, 900))

    def _watch_target(self) -> tuple[_Client, str, str, str, str, str]:
        """(client, group, version, resource, namespace, extra query) of one watch."""
        rng = self.rng
        draw = rng.random()
        if draw < 0.45:  # every kube-proxy watches services and endpoint slices (or endpoints, on old setups)
            group, resource = rng.choice((("", "services"), ("discovery.k8s.io", "endpointslices"), ("", "endpoints")))
            query = "labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&"
            return rng.choice(self.nodes).kube_proxy, group, "v1", resource, "", query
        if draw < 0.7:  # kubelets watch their own pods, and single secrets/configmaps by name
            node = rng.choice(self.nodes)
            resource = rng.choice(("pods", "configmaps", "secrets"))
            if resource == "pods":
                return node.kubelet, "", "v1", "pods", "", f"fieldSelector=spec.nodeName%3D{node.name}&"
            app = rng.choice(self.apps)
            return (node.kubelet, "", "v1", resource, rng.choice(app.namespaces),
                    f"fieldSelector=metadata.name%3D{app.name}-{'config' if resource == 'configmaps' else 'secrets'}&")
        sa, group, version, resource, _, _ = rng.choice(_READS)
        return self.controllers[sa], group, version, resource, "", ""

    def _watch(self, now: int) -> bytes:
        rng = self.rng
        client, group, version, resource, namespace, query = self._watch_target()
        timeout_s = rng.randint(300, 600)  # client-go reflectors ask for 5-10 minutes
        uri = (_path(group, version, resource, namespace) + f"?allowWatchBookmarks=true&{query}resourceVersion="
               f"{self.rv()}&timeout={timeout_s // 60}m{timeout_s % 60}s&timeoutSeconds={timeout_s}&watch=true")
        # Some policies log watches at Request or RequestResponse: they still never carry a body.
        level = rng.choice(("Metadata",) * 6 + ("Request", "RequestResponse"))
        request = _Request(client, level, "watch", uri, _ref(resource, namespace, group=group, version=version))
        if rng.random() < 0.5:  # a new watch: headers go out within a few milliseconds
            return _render(request, _uuid(rng), _STARTED, now - _lognormal_us(rng, 1_500), now)
        # A watch that began before this point of the stream times out now.
        return _render(request, _uuid(rng), _COMPLETE, now - timeout_s * 1_000_000 - rng.randrange(1_000_000), now)

    def _exec(self, now: int, queue: list[tuple[int, int, bytes]]) -> bytes:
        rng = self.rng
        app = rng.choice(self.apps)
        namespace, pod = rng.choice(app.namespaces), self._pod_name(app)
        sub = "exec" if rng.random() < 0.8 else "attach"
        if sub == "exec":
            command = rng.choice(("sh", "bash", "env", "cat&command=/etc/hosts"))
            query = f"?command={command}&container={app.name}&stdin=true&stdout=true&tty=true"
        else:
            query = f"?container={app.name}&stdin=true&stdout=true&tty=true"
        uri = _path("", "v1", "pods", namespace, pod, sub) + query
        request = _Request(self._pick_human(), rng.choice(("Metadata", "Request", "Request")), "create", uri,
                           _ref("pods", namespace, pod, sub=sub), status=_SWITCHING)
        audit_id = _uuid(rng)
        received = now - _lognormal_us(rng, 40_000)
        ended = now + int(rng.lognormvariate(0.0, 1.0) * 20_000_000)  # sessions last seconds to minutes
        heapq.heappush(queue, (ended, next(self._seq), _render(request, audit_id, _COMPLETE, received, ended)))
        return _render(request, audit_id, _STARTED, received, now)

    def _node_status(self, now: int) -> _Request:
        rng = self.rng
        node = rng.choice(self.nodes)
        # About one in eight status updates also reports the image list, which makes it 5-20 KB.
        template = rng.choice(self.image_patches) if rng.random() < 0.12 else self.heartbeat_patch
        uri = _path("", "v1", "nodes", name=node.name, sub="status") + "?timeout=10s"
        return _Request(node.kubelet, rng.choice(("Request", "Request", "Metadata")), "patch", uri,
                        _ref("nodes", name=node.name, sub="status"), latency_us=_lognormal_us(rng, 5_000),
                        request_body=template.render({"ts": _time(now)}))

    def _event_create(self, now: int) -> _Request:
        rng = self.rng
        app = rng.choice(self.apps)
        namespace = rng.choice(app.namespaces)
        pod = self._pod_name(app)
        event_name = f"{pod}.{now * 1_000 + rng.randrange(1_000):x}"
        level = rng.choice(("Request",) * 6 + ("Metadata",) * 3 + ("RequestResponse",))
        latency = _lognormal_us(rng, 4_000)
        if rng.random() < 0.15:  # the scheduler reports bindings through events.k8s.io/v1
            node_name = rng.choice(self.nodes).name
            text = _go_json({
                "kind": "Event", "apiVersion": "events.k8s.io/v1",
                "metadata": {"name": event_name, "namespace": namespace, "creationTimestamp": None},
                "eventTime": _micro_time(now), "reportingController": "default-scheduler",
                "reportingInstance": f"default-scheduler-{self.scheduler.source_ips[0]}", "action": "Binding",
                "reason": "Scheduled",
                "regarding": {"kind": "Pod", "namespace": namespace, "name": pod, "uid": _uuid(rng),
                              "apiVersion": "v1", "resourceVersion": self.rv()},
                "note": f"Successfully assigned {namespace}/{pod} to {node_name}", "type": "Normal"})
            uri = _path("events.k8s.io", "v1", "events", namespace)
            return _Request(self.scheduler, level, "create", uri,
                            _ref("events", namespace, event_name, group="events.k8s.io"),
                            status=_CREATED, latency_us=latency, request_body=text)
        node = rng.choice(self.nodes)
        request_t, response_t = rng.choice(app.event_bodies)
        values = {"name": event_name, "ns": namespace, "pod": pod, "pod_uid": _uuid(rng), "pod_rv": self.rv(),
                  "node": node.name, "ts": _time(now), "uid": _uuid(rng), "rv": self.rv(),
                  "pod_ip": f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}"}
        if rng.random() < 0.15:  # a repeated event: the kubelet bumps the count with a patch
            patch = _go_json({"count": rng.randint(2, 40), "lastTimestamp": _time(now)})
            uri = _path("", "v1", "events", namespace, event_name)
            return _Request(node.kubelet, level, "patch", uri, _ref("events", namespace, event_name),
                            latency_us=latency, request_body=patch)
        uri = _path("", "v1", "events", namespace)
        return _Request(node.kubelet, level, "create", uri, _ref("events", namespace, event_name), status=_CREATED,
                        latency_us=latency, request_body=request_t.render(values),
                        response_body=response_t.render(values))

    def _pod_write(self, now: int) -> _Request:
        rng = self.rng
        app = rng.choice(self.apps)
        namespace = rng.choice(app.namespaces)
        node = rng.choice(self.nodes)
        values = self._pod_values(app, namespace, now, node)
        draw = rng.random()
        if draw < 0.4:  # the replicaset-controller creates pods from generateName: no name in objectRef
            values["ts"] = _time(now)
            uri = _path("", "v1", "pods", namespace)
            controller = self.controllers["replicaset-controller"]
            # Pod Security admission records its verdict next to the authorizer's.
            annotations = _annotations("allow", controller.annotations["authorization.k8s.io/reason"],
                                       {"pod-security.kubernetes.io/enforce-policy": "baseline:latest"})
            level = rng.choice(("RequestResponse",) * 4 + ("Request",))
            return _Request(controller, level, "create", uri, _ref("pods", namespace), status=_CREATED,
                            latency_us=_lognormal_us(rng, 12_000), request_body=app.create_request.render(values),
                            response_body=app.create_response.render(values), annotations=annotations)
        if draw < 0.7:  # a full update (PUT) sends the whole object back, managedFields included
            client = rng.choice((self.controllers["argocd-application-controller"], self._pick_human()))
            request_body = app.full.render(values)
            values["rv"] = self.rv()
            uri = _path("", "v1", "pods", namespace, values["name"])
            ref = _ref("pods", namespace, values["name"], uid=values["uid"], rv=values["rv"])
            return _Request(client, rng.choice(("RequestResponse",) * 7 + ("Request",) * 3), "update", uri, ref,
                            latency_us=_lognormal_us(rng, 10_000), request_body=request_body,
                            response_body=app.full.render(values))
        uri = _path("", "v1", "pods", namespace, values["name"], "status")
        return _Request(node.kubelet, "Request", "patch", uri, _ref("pods", namespace, values["name"], sub="status"),
                        latency_us=_lognormal_us(rng, 6_000), request_body=app.status_patch.render(values))

    def _secret_configmap(self, now: int) -> _Request:
        rng = self.rng
        if rng.random() < 0.35:
            return self._secret()
        cm = rng.choice(self.configmaps)
        if rng.random() < 0.5:  # reads: never with a body at Metadata
            client = rng.choice((self.kcm, self.controllers["argocd-application-controller"],
                                 rng.choice(self.nodes).kubelet))
            uri = _path("", "v1", "configmaps", cm.namespace, cm.name)
            return _Request(client, "Metadata", "get", uri, _ref("configmaps", cm.namespace, cm.name),
                            latency_us=_lognormal_us(rng, 1_500))
        values = {"uid": cm.uid, "rv": self.rv(), "ts": _time(now - 86_400_000_000)}
        client = self.controllers["cluster-autoscaler"] if cm.namespace == "kube-system" else rng.choice(
            (self.deployer, self.controllers["argocd-application-controller"]))
        level = rng.choice(("RequestResponse", "RequestResponse", "Request"))
        if rng.random() < 0.2:
            uri = _path("", "v1", "configmaps", cm.namespace) + "?fieldManager=helm"
            return _Request(client, level, "create", uri, _ref("configmaps", cm.namespace, cm.name),
                            status=_CREATED, latency_us=_lognormal_us(rng, 8_000),
                            request_body=cm.create_request.render(values), response_body=cm.full.render(values))
        request_body = cm.full.render(values)
        values["rv"] = self.rv()
        uri = _path("", "v1", "configmaps", cm.namespace, cm.name)
        ref = _ref("configmaps", cm.namespace, cm.name, uid=cm.uid, rv=values["rv"])
        return _Request(client, level, "update", uri, ref, latency_us=_lognormal_us(rng, 8_000),
                        request_body=request_body, response_body=cm.full.render(values))

    def _secret(self) -> _Request:
        rng = self.rng
        app = rng.choice(self.apps)
        namespace = rng.choice(app.namespaces)
        draw = rng.random()
        latency = _lognormal_us(rng, 2_000)
        # Secrets are logged at Metadata only: no sane policy records their bodies.
        if draw < 0.3:  # helm stores each release as a secret
            name = f"sh.helm.release.v1.{app.name}.v{rng.randint(2, 60)}"
            uri = _path("", "v1", "secrets", namespace) + "?fieldManager=helm"
            return _Request(self.deployer, "Metadata", "create", uri, _ref("secrets", namespace, name),
                            status=_CREATED, latency_us=latency)
        if draw < 0.5:  # cert-manager renews TLS secrets
            name = f"{app.name}-tls"
            uri = _path("", "v1", "secrets", namespace, name)
            return _Request(self.controllers["cert-manager"], "Metadata", "update", uri,
                            _ref("secrets", namespace, name, uid=_uuid(rng), rv=self.rv()), latency_us=latency)
        if draw < 0.7:
            uri = _path("", "v1", "secrets", "argocd") + "?labelSelector=argocd.argoproj.io%2Fsecret-type%3Dcluster"
            return _Request(self.controllers["argocd-application-controller"], "Metadata", "list", uri,
                            _ref("secrets", "argocd"), latency_us=latency)
        if draw < 0.85:
            name = rng.choice(("bootstrap-token-" + _suffix(rng, 6), "aws-credentials", "cloud-config"))
            uri = _path("", "v1", "secrets", "kube-system", name)
            return _Request(self.controllers["cluster-autoscaler"], "Metadata", "get", uri,
                            _ref("secrets", "kube-system", name), latency_us=latency)
        name = f"sh.helm.release.v1.{app.name}.v{rng.randint(2, 60)}"
        uri = _path("", "v1", "secrets", namespace, name)
        return _Request(self.deployer, "Metadata", "delete", uri, _ref("secrets", namespace, name),
                        latency_us=latency)

    def _failed(self, now: int) -> _Request:
        rng = self.rng
        draw = rng.random()
        latency = _lognormal_us(rng, 1_200)
        forbid = _annotations("forbid", "")
        if draw < 0.15:  # anonymous scanners probing paths they may not read
            path = rng.choice(_SCANNED)
            client = self.anonymous[4]
            if path.startswith("/api"):
                resource = "secrets" if "secrets" in path else "deployments"
                group = "" if resource == "secrets" else "apps"
                message = (f'{resource} is forbidden: User "system:anonymous" cannot list resource "{resource}" in '
                           f'API group "{group}" ' + ('in the namespace "kube-system"' if group == "" else
                                                       "at the cluster scope"))
                ref = _ref(resource, "kube-system" if group == "" else "", group=group)
                status = _failure(403, "Forbidden", message, {"kind": resource} | ({"group": group} if group else {}))
                return _Request(client, "Metadata", "list", path, ref, status, latency, annotations=forbid)
            status = _failure(403, "Forbidden", f'forbidden: User "system:anonymous" cannot get path "{path}"', {})
            return _Request(client, "Metadata", "get", path, None, status, latency, annotations=forbid)
        if draw < 0.55:  # workloads and people asking for more than RBAC gives them
            client = rng.choice(self.humans[1:] + [self.controllers["prometheus-k8s"]])
            username = str(client.user["username"])
            resource, group, namespace = rng.choice(_FORBIDDEN)
            verb = rng.choice(("get", "list", "delete")) if resource != "clusterrolebindings" else "create"
            name = "" if verb in ("list", "create") else rng.choice(("db-creds", "admin-token", "coredns",
                                                                      rng.choice(self.nodes).name))
            where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            subject = f'{resource} "{name}"' if name else resource
            message = (f'{subject} is forbidden: User "{username}" cannot {verb} resource "{resource}" in API group '
                       f'"{group}" {where}')
            details: JSON = {"name": name} if name else {}
            if group:
                details["group"] = group
            details["kind"] = resource
            version = "v1"
            uri = _path(group, version, resource, namespace, name)
            return _Request(client, "Metadata", verb, uri, _ref(resource, namespace, name, group=group),
                            _failure(403, "Forbidden", message, details), latency, annotations=forbid)
        if draw < 0.85:  # a get of something that is not there (404)
            app = rng.choice(self.apps)
            namespace = rng.choice(app.namespaces)
            resource, group, name = rng.choice((("configmaps", "", f"{app.name}-feature-flags"),
                                                ("pods", "", self._pod_name(app)),
                                                ("leases", "coordination.k8s.io", f"{app.name}-leader"),
                                                ("deployments", "apps", f"{app.name}-canary")))
            details = {"name": name}
            if group:
                details["group"] = group
            details["kind"] = resource
            status = _failure(404, "NotFound", f'{_kind_of(resource, group)} "{name}" not found', details)
            client = rng.choice((self.controllers["argocd-application-controller"], self._pick_human(),
                                 self.controllers["generic-garbage-collector"]))
            uri = _path(group, "v1", resource, namespace, name)
            return _Request(client, "Metadata", "get", uri, _ref(resource, namespace, name, group=group), status,
                            latency)
        app = rng.choice(self.apps)
        if rng.random() < 0.5:  # optimistic concurrency: two leader candidates, one loses (409 Conflict)
            name, client, uid = rng.choice(self.leader_leases)
            message = (f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the object has been '
                       "modified; please apply your changes to the latest version and try again")
            status = _failure(409, "Conflict", message, {"name": name, "group": "coordination.k8s.io",
                                                          "kind": "leases"})
            uri = _path("coordination.k8s.io", "v1", "leases", "kube-system", name) + "?timeout=5s"
            ref = _ref("leases", "kube-system", name, group="coordination.k8s.io", uid=uid, rv=self.rv())
            return _Request(client, "Metadata", "update", uri, ref, status, latency)
        namespace = rng.choice(app.namespaces)
        name = f"{app.name}-config"
        status = _failure(409, "AlreadyExists", f'configmaps "{name}" already exists',
                          {"name": name, "kind": "configmaps"})
        uri = _path("", "v1", "configmaps", namespace) + "?fieldManager=helm"
        return _Request(self.deployer, "Metadata", "create", uri, _ref("configmaps", namespace, name), status,
                        latency)

    def _impersonated(self, now: int) -> _Request:
        rng = self.rng
        app = rng.choice(self.apps)
        namespace = rng.choice(app.namespaces)
        # Either an admin checking what someone can see (kubectl --as), or Argo CD's server acting for the
        # logged-in user. The policy matches the requesting user; the target is only recorded.
        client = self.humans[0] if rng.random() < 0.6 else self.argocd_server
        target = rng.choice(self.humans[1:])
        impersonated: JSON = {"username": target.user["username"], "groups": target.user["groups"]}
        resource, group = rng.choice(_IMPERSONATED)
        verb = rng.choice(("get", "list", "list"))
        name = app.name if verb == "get" and resource != "pods" else (self._pod_name(app) if verb == "get" else "")
        uri = _path(group, "v1", resource, namespace, name)
        ref = _ref(resource, namespace, name, group=group)
        if rng.random() < 0.1:
            subject = f'{resource} "{name}"' if name else resource
            message = (f'{subject} is forbidden: User "{impersonated["username"]}" cannot {verb} resource "{resource}" '
                       f'in API group "{group}" in the namespace "{namespace}"')
            details: JSON = ({"name": name} if name else {}) | ({"group": group} if group else {}) | {"kind": resource}
            return _Request(client, "Metadata", verb, uri, ref, _failure(403, "Forbidden", message, details),
                            _lognormal_us(rng, 1_500), impersonated=impersonated,
                            annotations=_annotations("forbid", ""))
        return _Request(client, "Metadata", verb, uri, ref, latency_us=_lognormal_us(rng, 3_000),
                        impersonated=impersonated)

    def _large(self, now: int) -> _Request:
        rng = self.rng
        large = rng.choice(self.large)
        values = {"rv": self.rv(), "uid": _uuid(rng), "ts": _time(now - 40 * 86_400_000_000)}
        latency = int(rng.uniform(0.3, 2.5) * 1_000_000)  # big bodies are slow: latency annotations appear
        if large.kind == "podlist":  # kubectl get pods -A -o yaml
            return _Request(rng.choice(self.humans), "RequestResponse", "list", "/api/v1/pods?limit=500",
                            _ref("pods"), latency_us=latency, response_body=large.first.render(values))
        client = self.controllers["argocd-application-controller"]
        name = large.name
        if large.second is None:  # the dashboard ConfigMap: the whole object goes in and comes back
            request_body = large.first.render(values)
            values["rv"] = self.rv()
            uri = _path("", "v1", "configmaps", "monitoring", name)
            ref = _ref("configmaps", "monitoring", name, uid=values["uid"], rv=values["rv"])
            return _Request(client, "RequestResponse", "update", uri, ref, latency_us=latency,
                            request_body=request_body, response_body=large.first.render(values))
        uri = _path("apiextensions.k8s.io", "v1", "customresourcedefinitions", name=name) + \
            "?fieldManager=argocd-controller&force=true"
        ref = _ref("customresourcedefinitions", name=name, group="apiextensions.k8s.io")
        return _Request(client, "RequestResponse", "patch", uri, ref, latency_us=latency,
                        request_body=large.first.render(values), response_body=large.second.render(values))


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def iter_events(seed: int = 0) -> Iterator[bytes]:
    """An endless, deterministic stream of audit event lines with the :data:`MIX` proportions."""
    rng = random.Random(seed)
    cluster = _Cluster(rng)
    names = tuple(MIX)
    cumulative = tuple(itertools.accumulate(MIX.values()))
    last = len(names) - 1
    now = _EPOCH_US
    while True:
        now += 1 + int(rng.expovariate(1.0 / _MEAN_GAP_US))
        index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        yield cluster.emit(names[min(index, last)], now)


def make_events(n: int, seed: int = 0) -> list[bytes]:
    """The first ``n`` events of ``iter_events(seed)``."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return list(itertools.islice(iter_events(seed), n))
