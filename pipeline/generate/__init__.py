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

Layout
------
:mod:`.vocabulary` (fixed names), :mod:`.encoding` (Go JSON, times, templates),
:mod:`.shapes` (Kubernetes shapes and seeded ids), :mod:`.request` (a request and
its per-stage events), :mod:`.world` (the state of one seed's cluster),
:mod:`.categories` (one builder per category), :mod:`.stream` (the mix and the
clock). The ``auditpipe generate`` command lives in :mod:`.command`.

Each seed precomputes its cluster (nodes, apps, clients, pre-encoded user JSON)
and turns every body into a JSON template with named holes. So an event costs a
few string joins plus one small JSON encode for its objectRef, while the RNG
still varies names, namespaces, uids, resource versions and timestamps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .stream import MIX, iter_events, make_events
    from .vocabulary import VOCABULARY, Vocabulary


def __getattr__(name: str) -> Any:
    # Loaded on first use: `auditpipe filter` and `run` import the `generate` command's
    # argument parser (this package) but never the generator, a fifth of the start-up.
    if name in ("MIX", "iter_events", "make_events"):
        from . import stream

        return getattr(stream, name)
    if name in ("VOCABULARY", "Vocabulary"):
        from . import vocabulary

        return getattr(vocabulary, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MIX", "VOCABULARY", "Vocabulary", "iter_events", "make_events"]
