"""``watch`` (8 %): watches by kube-proxy, kubelets and controllers, starting or timing out.

A watch is long-running, so it is written at ResponseStarted (a new watch) or at
ResponseComplete (one that started 5-10 minutes before); never with a body.
"""

from __future__ import annotations

from ..request import COMPLETE, STARTED, Client, Request, render
from ..shapes import api_path, lognormal_us, object_ref, uuid4
from ..vocabulary import READS
from ..world import World

_PROXY_SELECTOR = "labelSelector=%21service.kubernetes.io%2Fheadless%2C%21service.kubernetes.io%2Fservice-proxy-name&"


def _watch_target(world: World) -> tuple[Client, str, str, str, str, str]:
    """(client, group, version, resource, namespace, extra query) of one watch."""
    rng = world.rng
    draw = rng.random()
    if draw < 0.45:  # every kube-proxy watches services and endpoint slices (or endpoints, on old setups)
        group, resource = rng.choice((("", "services"), ("discovery.k8s.io", "endpointslices"), ("", "endpoints")))
        return rng.choice(world.nodes).kube_proxy, group, "v1", resource, "", _PROXY_SELECTOR
    if draw < 0.7:  # kubelets watch their own pods, and single secrets/configmaps by name
        node = rng.choice(world.nodes)
        resource = rng.choice(("pods", "configmaps", "secrets"))
        if resource == "pods":
            return node.kubelet, "", "v1", "pods", "", f"fieldSelector=spec.nodeName%3D{node.name}&"
        app = rng.choice(world.apps)
        return (
            node.kubelet,
            "",
            "v1",
            resource,
            rng.choice(app.namespaces),
            f"fieldSelector=metadata.name%3D{app.name}-{'config' if resource == 'configmaps' else 'secrets'}&",
        )
    sa, group, version, resource, _, _ = rng.choice(READS)
    return world.clients.controllers[sa], group, version, resource, "", ""


def build(world: World, now: int) -> bytes:
    """The event line of a watch that starts, or ends, at ``now``."""
    rng = world.rng
    client, group, version, resource, namespace, query = _watch_target(world)
    timeout_s = rng.randint(300, 600)  # client-go reflectors ask for 5-10 minutes
    uri = (
        api_path(group, version, resource, namespace) + f"?allowWatchBookmarks=true&{query}resourceVersion="
        f"{world.rv()}&timeout={timeout_s // 60}m{timeout_s % 60}s&timeoutSeconds={timeout_s}&watch=true"
    )
    # Some policies log watches at Request or RequestResponse: they still never carry a body.
    level = rng.choice(("Metadata",) * 6 + ("Request", "RequestResponse"))
    request = Request(client, level, "watch", uri, object_ref(resource, namespace, group=group, version=version))
    if rng.random() < 0.5:  # a new watch: headers go out within a few milliseconds
        return render(request, uuid4(rng), STARTED, now - lognormal_us(rng, 1_500), now)
    # A watch that began before this point of the stream times out now.
    return render(request, uuid4(rng), COMPLETE, now - timeout_s * 1_000_000 - rng.randrange(1_000_000), now)
