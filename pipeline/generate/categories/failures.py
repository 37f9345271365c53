"""``failed`` (5 %): 403 Forbidden (resource and non-resource), 404 NotFound and 409
Conflict/AlreadyExists, each with a Failure ``responseStatus``."""

from __future__ import annotations

from ..encoding import JSON
from ..request import Request, authz_annotations
from ..shapes import api_path, failure, kind_of, lognormal_us, object_ref
from ..vocabulary import FORBIDDEN, SCANNED
from ..world import World


def build(world: World, now: int) -> Request:
    """A refused or failed request: scanners (15 %), RBAC denials (40 %), 404s (30 %), 409s (15 %)."""
    rng = world.rng
    draw = rng.random()
    latency = lognormal_us(rng, 1_200)
    forbid = authz_annotations("forbid", "")
    if draw < 0.15:
        return _scanner(world, latency, forbid)
    if draw < 0.55:
        return _rbac_denied(world, latency, forbid)
    if draw < 0.85:
        return _not_found(world, latency)
    return _conflict(world, latency)


def _scanner(world: World, latency: int, forbid: dict[str, str]) -> Request:
    """Anonymous scanners probing paths they may not read."""
    path = world.rng.choice(SCANNED)
    client = world.clients.anonymous[4]
    if path.startswith("/api"):
        resource = "secrets" if "secrets" in path else "deployments"
        group = "" if resource == "secrets" else "apps"
        message = (
            f'{resource} is forbidden: User "system:anonymous" cannot list resource "{resource}" in '
            f'API group "{group}" ' + ('in the namespace "kube-system"' if group == "" else "at the cluster scope")
        )
        ref = object_ref(resource, "kube-system" if group == "" else "", group=group)
        status = failure(403, "Forbidden", message, {"kind": resource} | ({"group": group} if group else {}))
        return Request(client, "Metadata", "list", path, ref, status, latency, annotations=forbid)
    status = failure(403, "Forbidden", f'forbidden: User "system:anonymous" cannot get path "{path}"', {})
    return Request(client, "Metadata", "get", path, None, status, latency, annotations=forbid)


def _rbac_denied(world: World, latency: int, forbid: dict[str, str]) -> Request:
    """Workloads and people asking for more than RBAC gives them."""
    rng = world.rng
    client = rng.choice(world.clients.humans[1:] + [world.clients.controllers["prometheus-k8s"]])
    username = str(client.user["username"])
    resource, group, namespace = rng.choice(FORBIDDEN)
    verb = rng.choice(("get", "list", "delete")) if resource != "clusterrolebindings" else "create"
    name = (
        ""
        if verb in ("list", "create")
        else rng.choice(("db-creds", "admin-token", "coredns", rng.choice(world.nodes).name))
    )
    where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    subject = f'{resource} "{name}"' if name else resource
    message = (
        f'{subject} is forbidden: User "{username}" cannot {verb} resource "{resource}" in API group "{group}" {where}'
    )
    details: JSON = {"name": name} if name else {}
    if group:
        details["group"] = group
    details["kind"] = resource
    uri = api_path(group, "v1", resource, namespace, name)
    return Request(
        client,
        "Metadata",
        verb,
        uri,
        object_ref(resource, namespace, name, group=group),
        failure(403, "Forbidden", message, details),
        latency,
        annotations=forbid,
    )


def _not_found(world: World, latency: int) -> Request:
    """A get of something that is not there (404)."""
    rng = world.rng
    controllers = world.clients.controllers
    app = rng.choice(world.apps)
    namespace = rng.choice(app.namespaces)
    resource, group, name = rng.choice(
        (
            ("configmaps", "", f"{app.name}-feature-flags"),
            ("pods", "", world.pod_name(app)),
            ("leases", "coordination.k8s.io", f"{app.name}-leader"),
            ("deployments", "apps", f"{app.name}-canary"),
        )
    )
    details: JSON = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = resource
    status = failure(404, "NotFound", f'{kind_of(resource, group)} "{name}" not found', details)
    client = rng.choice(
        (controllers["argocd-application-controller"], world.pick_human(), controllers["generic-garbage-collector"])
    )
    uri = api_path(group, "v1", resource, namespace, name)
    return Request(client, "Metadata", "get", uri, object_ref(resource, namespace, name, group=group), status, latency)


def _conflict(world: World, latency: int) -> Request:
    """A lost leader-election race (409 Conflict), or a Helm create of a configmap that exists."""
    rng = world.rng
    app = rng.choice(world.apps)
    if rng.random() < 0.5:  # optimistic concurrency: two leader candidates, one loses (409 Conflict)
        name, client, uid = rng.choice(world.clients.leader_leases)
        message = (
            f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again"
        )
        status = failure(409, "Conflict", message, {"name": name, "group": "coordination.k8s.io", "kind": "leases"})
        uri = api_path("coordination.k8s.io", "v1", "leases", "kube-system", name) + "?timeout=5s"
        ref = object_ref("leases", "kube-system", name, group="coordination.k8s.io", uid=uid, rv=world.rv())
        return Request(client, "Metadata", "update", uri, ref, status, latency)
    namespace = rng.choice(app.namespaces)
    name = f"{app.name}-config"
    status = failure(409, "AlreadyExists", f'configmaps "{name}" already exists', {"name": name, "kind": "configmaps"})
    uri = api_path("", "v1", "configmaps", namespace) + "?fieldManager=helm"
    return Request(
        world.clients.deployer, "Metadata", "create", uri, object_ref("configmaps", namespace, name), status, latency
    )
