"""``impersonated`` (1 %): requests carrying ``impersonatedUser`` (``kubectl --as``, Argo CD's
server acting for the logged-in user); a tenth of them are refused with 403."""

from __future__ import annotations

from ..encoding import JSON
from ..request import Request, authz_annotations
from ..shapes import api_path, failure, lognormal_us, object_ref
from ..vocabulary import IMPERSONATED
from ..world import World


def build(world: World, now: int) -> Request:
    """A get or list on behalf of another user."""
    rng = world.rng
    clients = world.clients
    app = rng.choice(world.apps)
    namespace = rng.choice(app.namespaces)
    # Either an admin checking what someone can see (kubectl --as), or Argo CD's server acting for the
    # logged-in user. The policy matches the requesting user; the target is only recorded.
    client = clients.humans[0] if rng.random() < 0.6 else clients.argocd_server
    target = rng.choice(clients.humans[1:])
    impersonated: JSON = {"username": target.user["username"], "groups": target.user["groups"]}
    resource, group = rng.choice(IMPERSONATED)
    verb = rng.choice(("get", "list", "list"))
    name = app.name if verb == "get" and resource != "pods" else (world.pod_name(app) if verb == "get" else "")
    uri = api_path(group, "v1", resource, namespace, name)
    ref = object_ref(resource, namespace, name, group=group)
    if rng.random() < 0.1:
        subject = f'{resource} "{name}"' if name else resource
        message = (
            f'{subject} is forbidden: User "{impersonated["username"]}" cannot {verb} resource "{resource}" '
            f'in API group "{group}" in the namespace "{namespace}"'
        )
        details: JSON = ({"name": name} if name else {}) | ({"group": group} if group else {}) | {"kind": resource}
        return Request(
            client,
            "Metadata",
            verb,
            uri,
            ref,
            failure(403, "Forbidden", message, details),
            lognormal_us(rng, 1_500),
            impersonated=impersonated,
            annotations=authz_annotations("forbid", ""),
        )
    return Request(client, "Metadata", verb, uri, ref, latency_us=lognormal_us(rng, 3_000), impersonated=impersonated)
