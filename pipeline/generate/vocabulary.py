"""The fixed names of the simulated cluster, independent of the seed.

Policy generators (``bench/data.py``) read :data:`VOCABULARY` to tell names that
occur in the stream from names that never do, so every name the generator may
write is listed here (node names aside: they are drawn per seed).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from typing import Final

__all__ = ["VOCABULARY", "Vocabulary"]

# The simulated clock starts here; events advance it by about 1 ms each.
EPOCH_US: Final = calendar.timegm((2026, 11, 27, 10, 0, 0, 0, 0, 0)) * 1_000_000

K8S_VERSION: Final = "v1.31.2"
K8S_COMMIT: Final = "5864a4677267e6adeae276ad85882a8714d69d9d"

# ServiceAccounts kube-controller-manager uses with --use-service-account-credentials.
KCM_CONTROLLERS: Final = (
    "attachdetach-controller",
    "cronjob-controller",
    "daemon-set-controller",
    "deployment-controller",
    "disruption-controller",
    "endpoint-controller",
    "endpointslice-controller",
    "generic-garbage-collector",
    "horizontal-pod-autoscaler",
    "job-controller",
    "namespace-controller",
    "node-controller",
    "persistent-volume-binder",
    "pvc-protection-controller",
    "replicaset-controller",
    "resourcequota-controller",
    "service-account-controller",
    "statefulset-controller",
    "ttl-after-finished-controller",
)

# In-cluster operators: (namespace, serviceaccount, user agent).
OPERATORS: Final = (
    ("cert-manager", "cert-manager", "cert-manager-controller/v1.15.3 (linux/amd64) cert-manager/1e3d51a"),
    ("argocd", "argocd-application-controller", "argocd-application-controller/v2.12.4 (linux/amd64)"),
    ("monitoring", "prometheus-k8s", "Prometheus/2.54.1"),
    ("kube-system", "cluster-autoscaler", "cluster-autoscaler/v1.31.0 (linux/amd64) kubernetes/unknown"),
    ("kube-system", "metrics-server", "metrics-server/v0.7.2 (linux/amd64) kubernetes/unknown"),
)

APP_NAMESPACES: Final = ("prod", "staging", "team-data", "team-web", "default")
SYSTEM_NAMESPACES: Final = ("kube-system", "kube-node-lease", "kube-public", "monitoring", "cert-manager", "argocd")
APPS: Final = (
    "checkout",
    "payments",
    "cart",
    "frontend",
    "search",
    "orders",
    "inventory",
    "auth",
    "notifications",
    "recommendations",
    "shipping",
    "catalog",
    "reviews",
    "billing",
    "gateway",
    "ledger",
)

# (username, groups, user-agent platform) of the people and pipelines that use kubectl.
HUMANS: Final = (
    ("kubernetes-admin", ("kubeadm:cluster-admins", "system:authenticated"), "linux/amd64"),
    ("alice@example.com", ("oidc:platform-team", "system:authenticated"), "darwin/arm64"),
    ("bob@example.com", ("oidc:dev-team", "system:authenticated"), "darwin/arm64"),
    ("carol@example.com", ("oidc:dev-team", "oidc:oncall", "system:authenticated"), "linux/amd64"),
)

NONRESOURCE_ANON: Final = ("/healthz", "/livez", "/readyz", "/version", "/readyz?verbose", "/livez?verbose")
NONRESOURCE_DISCOVERY: Final = ("/api", "/apis", "/openapi/v2", "/openapi/v3", "/version", "/apis/apps/v1")
# What anonymous scanners probe (all refused with 403); two are resource URLs.
SCANNED: Final = (
    "/metrics",
    "/logs/",
    "/debug/pprof/",
    "/api/v1/namespaces/kube-system/secrets",
    "/.env",
    "/apis/apps/v1/deployments?x=<script>",
)

# What people and workloads are refused (resource, group, namespace), and what is read through impersonation.
FORBIDDEN: Final = (
    ("secrets", "", "kube-system"),
    ("nodes", "", ""),
    ("clusterrolebindings", "rbac.authorization.k8s.io", ""),
    ("deployments", "apps", "kube-system"),
    ("secrets", "", "prod"),
)
IMPERSONATED: Final = (("pods", ""), ("deployments", "apps"), ("services", ""), ("configmaps", ""))

# (controller, group, version, resource, namespaced, subresource) that controller_read draws from. It
# never reads leases, events, secrets or configmaps: other categories own those.
READS: Final = (
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
    operators = tuple(f"system:serviceaccount:{ns}:{sa}" for ns, sa, _ in OPERATORS)
    controllers = tuple(f"system:serviceaccount:kube-system:{sa}" for sa in KCM_CONTROLLERS)
    users = (
        "system:kube-proxy",
        "system:kube-controller-manager",
        "system:kube-scheduler",
        "system:apiserver",
        "system:anonymous",
        *controllers,
        *operators,
        *(h[0] for h in HUMANS),
        "system:serviceaccount:argocd:argocd-server",
        "system:serviceaccount:ci:deployer",
    )
    sa_groups = {f"system:serviceaccounts:{ns}" for ns, _, _ in OPERATORS} | {
        "system:serviceaccounts:kube-system",
        "system:serviceaccounts:argocd",
        "system:serviceaccounts:ci",
    }
    groups = (
        "system:authenticated",
        "system:unauthenticated",
        "system:nodes",
        "system:masters",
        "system:serviceaccounts",
        *sorted(sa_groups),
        *sorted({g for h in HUMANS for g in h[1]} - {"system:authenticated"}),
    )
    resources = {(r[1], r[3] + (f"/{r[5]}" if r[5] else "")) for r in READS}
    resources |= {(group, resource) for resource, group, _ in FORBIDDEN}
    resources |= {(group, resource) for resource, group in IMPERSONATED}
    resources |= {
        ("coordination.k8s.io", "leases"),
        ("", "nodes/status"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("", "pods"),
        ("", "pods/status"),
        ("", "pods/exec"),
        ("", "pods/attach"),
        ("", "secrets"),
        ("", "configmaps"),
        ("", "endpoints"),
        ("discovery.k8s.io", "endpointslices"),
        ("apiextensions.k8s.io", "customresourcedefinitions"),
    }
    paths = {
        p.split("?")[0]
        for p in (*NONRESOURCE_ANON, *NONRESOURCE_DISCOVERY, *SCANNED)
        if not p.startswith(("/api/", "/apis/apps/v1/"))
    }
    return Vocabulary(
        users=users,
        groups=groups,
        namespaces=(*APP_NAMESPACES, *SYSTEM_NAMESPACES),
        verbs=("get", "list", "watch", "create", "update", "patch", "delete"),
        resources=tuple(sorted(resources)),
        paths=tuple(sorted(paths)),
    )


VOCABULARY: Final = _build_vocabulary()

# Words for env var names, config files, dashboards and CRD descriptions.
WORDS: Final = (
    "cache",
    "timeout",
    "retry",
    "pool",
    "endpoint",
    "region",
    "bucket",
    "queue",
    "worker",
    "shard",
    "replica",
    "token",
    "metrics",
    "tracing",
    "feature",
    "limit",
    "window",
    "backoff",
    "batch",
    "stream",
    "ledger",
    "quota",
    "circuit",
    "breaker",
    "latency",
    "budget",
    "tenant",
    "session",
    "upstream",
    "canary",
)
