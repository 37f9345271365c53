"""``secret_configmap`` (8 %): secrets (always at Metadata) and configmaps (reads at Metadata,
writes at Request/RequestResponse with 1-14 KB of data)."""

from __future__ import annotations

from ..encoding import k8s_time
from ..request import CREATED, Request
from ..shapes import api_path, lognormal_us, name_suffix, object_ref, uuid4
from ..world import World


def build(world: World, now: int) -> Request:
    """A secret request (35 %), or a configmap read, create or update."""
    rng = world.rng
    clients = world.clients
    if rng.random() < 0.35:
        return _secret(world)
    cm = rng.choice(world.configmaps)
    if rng.random() < 0.5:  # reads: never with a body at Metadata
        client = rng.choice(
            (clients.kcm, clients.controllers["argocd-application-controller"], rng.choice(world.nodes).kubelet)
        )
        uri = api_path("", "v1", "configmaps", cm.namespace, cm.name)
        return Request(
            client,
            "Metadata",
            "get",
            uri,
            object_ref("configmaps", cm.namespace, cm.name),
            latency_us=lognormal_us(rng, 1_500),
        )
    values = {"uid": cm.uid, "rv": world.rv(), "ts": k8s_time(now - 86_400_000_000)}
    client = (
        clients.controllers["cluster-autoscaler"]
        if cm.namespace == "kube-system"
        else rng.choice((clients.deployer, clients.controllers["argocd-application-controller"]))
    )
    level = rng.choice(("RequestResponse", "RequestResponse", "Request"))
    if rng.random() < 0.2:
        uri = api_path("", "v1", "configmaps", cm.namespace) + "?fieldManager=helm"
        return Request(
            client,
            level,
            "create",
            uri,
            object_ref("configmaps", cm.namespace, cm.name),
            status=CREATED,
            latency_us=lognormal_us(rng, 8_000),
            request_body=cm.create_request.render(values),
            response_body=cm.full.render(values),
        )
    request_body = cm.full.render(values)
    values["rv"] = world.rv()
    uri = api_path("", "v1", "configmaps", cm.namespace, cm.name)
    ref = object_ref("configmaps", cm.namespace, cm.name, uid=cm.uid, rv=values["rv"])
    return Request(
        client,
        level,
        "update",
        uri,
        ref,
        latency_us=lognormal_us(rng, 8_000),
        request_body=request_body,
        response_body=cm.full.render(values),
    )


def _secret(world: World) -> Request:
    """Helm release secrets, cert-manager renewals, Argo CD's cluster list, the autoscaler's credentials."""
    rng = world.rng
    clients = world.clients
    app = rng.choice(world.apps)
    namespace = rng.choice(app.namespaces)
    draw = rng.random()
    latency = lognormal_us(rng, 2_000)
    # Secrets are logged at Metadata only: no sane policy records their bodies.
    if draw < 0.3:  # helm stores each release as a secret
        name = f"sh.helm.release.v1.{app.name}.v{rng.randint(2, 60)}"
        uri = api_path("", "v1", "secrets", namespace) + "?fieldManager=helm"
        return Request(
            clients.deployer,
            "Metadata",
            "create",
            uri,
            object_ref("secrets", namespace, name),
            status=CREATED,
            latency_us=latency,
        )
    if draw < 0.5:  # cert-manager renews TLS secrets
        name = f"{app.name}-tls"
        uri = api_path("", "v1", "secrets", namespace, name)
        return Request(
            clients.controllers["cert-manager"],
            "Metadata",
            "update",
            uri,
            object_ref("secrets", namespace, name, uid=uuid4(rng), rv=world.rv()),
            latency_us=latency,
        )
    if draw < 0.7:
        uri = api_path("", "v1", "secrets", "argocd") + "?labelSelector=argocd.argoproj.io%2Fsecret-type%3Dcluster"
        return Request(
            clients.controllers["argocd-application-controller"],
            "Metadata",
            "list",
            uri,
            object_ref("secrets", "argocd"),
            latency_us=latency,
        )
    if draw < 0.85:
        name = rng.choice(("bootstrap-token-" + name_suffix(rng, 6), "aws-credentials", "cloud-config"))
        uri = api_path("", "v1", "secrets", "kube-system", name)
        return Request(
            clients.controllers["cluster-autoscaler"],
            "Metadata",
            "get",
            uri,
            object_ref("secrets", "kube-system", name),
            latency_us=latency,
        )
    name = f"sh.helm.release.v1.{app.name}.v{rng.randint(2, 60)}"
    uri = api_path("", "v1", "secrets", namespace, name)
    return Request(
        clients.deployer, "Metadata", "delete", uri, object_ref("secrets", namespace, name), latency_us=latency
    )
