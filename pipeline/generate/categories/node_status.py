"""``node_status`` (6 %): kubelets patching ``nodes/status`` with heartbeat conditions."""

from __future__ import annotations

from ..encoding import k8s_time
from ..request import Request
from ..shapes import api_path, lognormal_us, object_ref
from ..world import World


def build(world: World, now: int) -> Request:
    """A strategic-merge status patch; about one in eight also carries the node's image list."""
    rng = world.rng
    node = rng.choice(world.nodes)
    # About one in eight status updates also reports the image list, which makes it 5-20 KB.
    template = rng.choice(world.image_patches) if rng.random() < 0.12 else world.heartbeat_patch
    uri = api_path("", "v1", "nodes", name=node.name, sub="status") + "?timeout=10s"
    return Request(
        node.kubelet,
        rng.choice(("Request", "Request", "Metadata")),
        "patch",
        uri,
        object_ref("nodes", name=node.name, sub="status"),
        latency_us=lognormal_us(rng, 5_000),
        request_body=template.render({"ts": k8s_time(now)}),
    )
