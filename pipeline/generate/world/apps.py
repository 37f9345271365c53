"""The apps of the simulated cluster: their pods (as created, admitted and running) and kubelet Events.

Every body is a :class:`~pipeline.generate.encoding.Template`; the holes are filled
per event (``name``, ``ns``, ``uid``, ``rv``, ``ts``, ``ts_status``, ``node``,
``host_ip``, ``pod_ip``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from ..encoding import JSON, Template
from ..shapes import fields_v1, hex_digits, managed_entry, name_suffix, sorted_map, uuid4
from ..vocabulary import APP_NAMESPACES, APPS, WORDS

_SIDECARS = ("istio-proxy", "log-shipper", "metrics-exporter", "vault-agent")
_SERVICE_ACCOUNT_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@dataclass(slots=True)
class App:
    """One Deployment: where it runs, its ReplicaSet, and its pod and Event bodies as templates."""

    name: str
    namespaces: tuple[str, ...]
    rs_hash: str
    rs_uid: str
    create_request: Template
    create_response: Template
    full: Template  # a running pod, with several managedFields entries
    status_patch: Template
    event_bodies: tuple[tuple[Template, Template], ...]  # (request, response) of kubelet events


def container(rng: random.Random, app: str, index: int) -> JSON:
    """The ``index``-th container of ``app``'s pods: the app itself first, then sidecars."""
    name = app if index == 0 else rng.choice(_SIDECARS)
    image = f"registry.example.com/shop/{name}:{rng.randint(1, 3)}.{rng.randint(0, 60)}.{rng.randint(0, 9)}"
    port = rng.choice((8080, 8443, 9090, 3000, 5000))
    env: list[JSON] = []
    for i in range(rng.randint(3, 24)):
        key = f"{app.upper()}_{rng.choice(WORDS).upper()}_{i}"
        if i % 7 == 3:
            env.append({"name": key, "valueFrom": {"secretKeyRef": {"name": f"{app}-secrets", "key": key.lower()}}})
        elif i % 7 == 5:
            env.append({"name": key, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}})
        else:
            env.append(
                {
                    "name": key,
                    "value": rng.choice(
                        ("true", "false", "30s", "info", "5", f"https://{rng.choice(APPS)}.prod.svc.cluster.local:8443")
                    ),
                }
            )
    probe = {
        "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    return {
        "name": name,
        "image": image,
        "args": [f"--config=/etc/{app}/config.yaml", "--log-format=json"],
        "ports": [
            {"name": "http", "containerPort": port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9102, "protocol": "TCP"},
        ],
        "env": env,
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "volumeMounts": [{"name": "config", "mountPath": f"/etc/{app}"}],
        "livenessProbe": probe,
        "readinessProbe": probe,
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def _admitted(spec: JSON, volumes: list[JSON], containers: list[JSON], token_volume: str) -> JSON:
    """The pod spec after admission: the projected token volume and mount, tolerations, priority."""
    admitted = dict(spec)
    admitted["volumes"] = volumes + [
        {
            "name": token_volume,
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {
                        "downwardAPI": {
                            "items": [
                                {
                                    "path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                }
                            ]
                        }
                    },
                ],
                "defaultMode": 420,
            },
        }
    ]
    admitted["containers"] = [
        {
            **c,
            "volumeMounts": c["volumeMounts"]
            + [{"name": token_volume, "readOnly": True, "mountPath": _SERVICE_ACCOUNT_MOUNT}],
        }
        for c in containers
    ]
    admitted["tolerations"] = [
        {"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        for t in ("not-ready", "unreachable")
    ]
    admitted["priority"] = 0
    admitted["preemptionPolicy"] = "PreemptLowerPriority"
    return admitted


def make_app(rng: random.Random, name: str) -> App:
    """The Deployment ``name``: two namespaces, 1-3 containers, and every pod body it needs."""
    namespaces = tuple(rng.sample(APP_NAMESPACES, 2))
    rs_hash = name_suffix(rng, 10)
    rs_uid = uuid4(rng)
    containers = [container(rng, name, i) for i in range(rng.choice((1, 1, 2, 3)))]
    labels = sorted_map(
        {
            "app": name,
            "pod-template-hash": rs_hash,
            "version": f"v{rng.randint(1, 9)}",
            "app.kubernetes.io/part-of": "shop",
        }
    )
    annotations = sorted_map(
        {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "9102",
            "kubectl.kubernetes.io/restartedAt": "2026-11-20T08:14:03Z",
        }
    )
    owner = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{name}-{rs_hash}",
            "uid": rs_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    token_volume = f"kube-api-access-{name_suffix(rng)}"
    volumes: list[JSON] = [{"name": "config", "configMap": {"name": f"{name}-config", "defaultMode": 420}}]
    spec: JSON = {
        "volumes": volumes,
        "containers": containers,
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": name,
        "serviceAccount": name,
        "securityContext": {"fsGroup": 2000},
        "schedulerName": "default-scheduler",
        "enableServiceLinks": True,
    }
    request_meta: JSON = {
        "generateName": f"{name}-{rs_hash}-",
        "namespace": "@@ns@@",
        "creationTimestamp": None,
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": owner,
    }
    create_request = Template.of(
        {"kind": "Pod", "apiVersion": "v1", "metadata": request_meta, "spec": spec, "status": {}}
    )
    admitted = _admitted(spec, volumes, containers, token_volume)
    controller_fields = {
        "f:metadata": fields_v1(
            {k: request_meta[k] for k in ("generateName", "labels", "annotations", "ownerReferences")}
        ),
        "f:spec": fields_v1(spec),
    }
    meta: JSON = {
        "name": "@@name@@",
        "generateName": f"{name}-{rs_hash}-",
        "namespace": "@@ns@@",
        "uid": "@@uid@@",
        "resourceVersion": "@@rv@@",
        "creationTimestamp": "@@ts@@",
        "labels": labels,
        "annotations": annotations,
        "ownerReferences": owner,
        "managedFields": [managed_entry("kube-controller-manager", controller_fields)],
    }
    create_response = Template.of(
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": meta,
            "spec": admitted,
            "status": {"phase": "Pending", "qosClass": "Burstable"},
        }
    )
    status = running_status(rng, containers)
    managed = [
        managed_entry("kube-controller-manager", controller_fields),
        managed_entry("kubelet", {"f:status": fields_v1(status)}, time_slot="ts_status", subresource="status"),
    ]
    extra_annotations = dict(annotations)
    if rng.random() < 0.6:
        extra_annotations["argocd.argoproj.io/tracking-id"] = f"{name}:apps/Deployment:@@ns@@/{name}"
        managed.append(
            managed_entry(
                "argocd-controller",
                {"f:metadata": {"f:annotations": {"f:argocd.argoproj.io/tracking-id": {}}}},
                operation="Apply",
            )
        )
    if rng.random() < 0.5:
        labels_extra = {"team": rng.choice(("checkout", "platform", "data"))}
        managed.append(managed_entry("kubectl-label", {"f:metadata": {"f:labels": {"f:team": {}}}}))
    else:
        labels_extra = {}
    full_meta = {
        **meta,
        "labels": sorted_map({**labels, **labels_extra}),
        "annotations": sorted_map(extra_annotations),
        "managedFields": managed,
    }
    full = Template.of(
        {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": full_meta,
            "spec": {**admitted, "nodeName": "@@node@@"},
            "status": status,
        }
    )
    status_patch = Template.of(
        {
            "metadata": {"uid": "@@uid@@"},
            "status": {
                "$setElementOrder/conditions": [{"type": c["type"]} for c in status["conditions"]],
                "conditions": [
                    {"lastTransitionTime": "@@ts_status@@", "status": "True", "type": t}
                    for t in ("ContainersReady", "Ready")
                ],
                "containerStatuses": status["containerStatuses"],
            },
        }
    )
    return App(
        name,
        namespaces,
        rs_hash,
        rs_uid,
        create_request,
        create_response,
        full,
        status_patch,
        kubelet_events(containers[0]),
    )


def running_status(rng: random.Random, containers: Sequence[JSON]) -> JSON:
    """The status of a running, ready pod of ``containers``."""
    conditions = [
        {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": "@@ts_status@@"}
        for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    statuses = [
        {
            "name": c["name"],
            "state": {"running": {"startedAt": "@@ts@@"}},
            "lastState": {},
            "ready": True,
            "restartCount": rng.choice((0, 0, 0, 1, 4)),
            "image": c["image"],
            "imageID": f"{c['image'].rsplit(':', 1)[0]}@sha256:{hex_digits(rng, 64)}",
            "containerID": f"containerd://{hex_digits(rng, 64)}",
            "started": True,
        }
        for c in containers
    ]
    return {
        "phase": "Running",
        "conditions": conditions,
        "hostIP": "@@host_ip@@",
        "hostIPs": [{"ip": "@@host_ip@@"}],
        "podIP": "@@pod_ip@@",
        "podIPs": [{"ip": "@@pod_ip@@"}],
        "startTime": "@@ts@@",
        "containerStatuses": statuses,
        "qosClass": "Burstable",
    }


def kubelet_events(main: JSON) -> tuple[tuple[Template, Template], ...]:
    """(request, response) bodies of the core Events a kubelet creates about the ``main`` container."""
    reasons = (
        ("Normal", "Pulled", f'Container image "{main["image"]}" already present on machine'),
        ("Normal", "Created", f"Created container {main['name']}"),
        ("Normal", "Started", f"Started container {main['name']}"),
        ("Normal", "Killing", f"Stopping container {main['name']}"),
        (
            "Warning",
            "Unhealthy",
            'Readiness probe failed: Get "http://@@pod_ip@@:8080/healthz": context '
            "deadline exceeded (Client.Timeout exceeded while awaiting headers)",
        ),
        (
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {main['name']} in pod @@pod@@_@@ns@@(@@pod_uid@@)",
        ),
    )
    out = []
    for kind, reason, message in reasons:
        body: JSON = {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": "@@name@@", "namespace": "@@ns@@", "creationTimestamp": None},
            "involvedObject": {
                "kind": "Pod",
                "namespace": "@@ns@@",
                "name": "@@pod@@",
                "uid": "@@pod_uid@@",
                "apiVersion": "v1",
                "resourceVersion": "@@pod_rv@@",
                "fieldPath": f"spec.containers{{{main['name']}}}",
            },
            "reason": reason,
            "message": message,
            "source": {"component": "kubelet", "host": "@@node@@"},
            "firstTimestamp": "@@ts@@",
            "lastTimestamp": "@@ts@@",
            "count": 1,
            "type": kind,
            "eventTime": None,
            "reportingComponent": "kubelet",
            "reportingInstance": "@@node@@",
        }
        response = dict(body)
        response["metadata"] = {
            "name": "@@name@@",
            "namespace": "@@ns@@",
            "uid": "@@uid@@",
            "resourceVersion": "@@rv@@",
            "creationTimestamp": "@@ts@@",
            "managedFields": [
                managed_entry(
                    "kubelet",
                    fields_v1(
                        {k: v for k, v in body.items() if v is not None and k not in ("kind", "apiVersion", "metadata")}
                    ),
                )
            ],
        }
        out.append((Template.of(body), Template.of(response)))
    return tuple(out)
