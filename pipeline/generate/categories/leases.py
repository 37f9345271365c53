"""``lease`` (29 %): node heartbeats and leader election on ``coordination.k8s.io`` Leases."""

from __future__ import annotations

from ..request import Request
from ..shapes import api_path, lognormal_us, object_ref
from ..world import World


def build(world: World, now: int) -> Request:
    """A kubelet renewing its node Lease, or a leader-election get/update in ``kube-system``."""
    rng = world.rng
    if rng.random() < 0.75:  # every kubelet renews its Lease every 10 s: the commonest write of all
        node = rng.choice(world.nodes)
        ref = object_ref(
            "leases", "kube-node-lease", node.name, group="coordination.k8s.io", uid=node.lease_uid, rv=world.rv()
        )
        uri = api_path("coordination.k8s.io", "v1", "leases", "kube-node-lease", node.name) + "?timeout=10s"
        return Request(node.kubelet, "Metadata", "update", uri, ref, latency_us=lognormal_us(rng, 3_000))
    # Leader election: the holder renews (update), the other candidates only look (get).
    name, client, uid = rng.choice(world.clients.leader_leases)
    verb = rng.choice(("get", "update"))
    ref = object_ref("leases", "kube-system", name, group="coordination.k8s.io")
    if verb == "update":
        ref = object_ref("leases", "kube-system", name, group="coordination.k8s.io", uid=uid, rv=world.rv())
    uri = api_path("coordination.k8s.io", "v1", "leases", "kube-system", name) + "?timeout=5s"
    return Request(client, "Metadata", verb, uri, ref, latency_us=lognormal_us(rng, 2_500))
