"""``controller_read`` (17 %): gets and lists by kube-controller-manager's controllers, the scheduler
and in-cluster operators. Leases, events, secrets and configmaps belong to other categories."""

from __future__ import annotations

from ..request import Request
from ..shapes import api_path, hex_digits, lognormal_us, object_ref, uuid4
from ..vocabulary import APP_NAMESPACES, APPS, READS
from ..world import World


def _object_name(world: World, resource: str) -> str:
    """A plausible name of an object of ``resource`` in this cluster."""
    rng = world.rng
    app = rng.choice(world.apps)
    if resource in ("nodes", "csinodes"):
        return rng.choice(world.nodes).name
    if resource == "pods":
        return world.pod_name(app)
    if resource == "replicasets":
        return f"{app.name}-{app.rs_hash}"
    if resource in ("persistentvolumeclaims", "persistentvolumes"):
        return f"data-{app.name}-{rng.randrange(3)}" if resource == "persistentvolumeclaims" else f"pvc-{uuid4(rng)}"
    if resource == "volumeattachments":
        return f"csi-{hex_digits(rng, 64)}"
    if resource == "namespaces":
        return rng.choice(APP_NAMESPACES)
    if resource == "jobs":
        return f"{app.name}-migrate-{rng.randrange(28_000_000, 29_000_000)}"
    return app.name


def build(world: World, now: int) -> Request:
    """A controller's get of one object, or its list (by label, or client-go's initial list)."""
    rng = world.rng
    sa, group, version, resource, namespaced, sub = rng.choice(READS)
    client = world.clients.controllers[sa]
    namespace = rng.choice(rng.choice(world.apps).namespaces) if namespaced else ""
    if sub or rng.random() < 0.6:
        name = _object_name(world, resource)
        uri = api_path(group, version, resource, namespace, name, sub)
        # requestinfo gives a Namespace object its own name as namespace.
        ref_namespace = name if resource == "namespaces" else namespace
        return Request(
            client,
            "Metadata",
            "get",
            uri,
            object_ref(resource, ref_namespace, name, group=group, version=version, sub=sub),
            latency_us=lognormal_us(rng, 1_800),
        )
    if namespaced and rng.random() < 0.3:
        namespace = ""  # an all-namespaces list
    if namespace and rng.random() < 0.5:
        query = f"?labelSelector=app%3D{rng.choice(APPS)}"
    else:
        query = "?limit=500&resourceVersion=0"  # client-go's initial list, served from the watch cache
    uri = api_path(group, version, resource, namespace) + query
    return Request(
        client,
        rng.choice(("Metadata", "Metadata", "Request")),
        "list",
        uri,
        object_ref(resource, namespace, group=group, version=version),
        latency_us=lognormal_us(rng, 6_000),
    )
