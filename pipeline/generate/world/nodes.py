"""The nodes of the simulated cluster, and the status patches their kubelets send."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..encoding import JSON, Template
from ..request import Client, authz_annotations
from ..shapes import client_go_agent, hex_digits, rbac_reason, uuid4
from ..vocabulary import APPS


@dataclass(slots=True)
class Node:
    """One worker node: its name and IP, its kubelet and kube-proxy clients, the uid of its Lease."""

    name: str
    ip: str
    kubelet: Client
    kube_proxy: Client
    lease_uid: str


def make_nodes(rng: random.Random, count: int, region: str) -> list[Node]:
    """``count`` nodes with distinct IPs, named as on EC2 (``ip-10-0-1-2.<region>.compute.internal``)."""
    seen: set[str] = set()
    nodes: list[Node] = []
    while len(nodes) < count:
        ip = f"10.0.{rng.randrange(1, 64)}.{rng.randrange(2, 254)}"
        if ip in seen:
            continue
        seen.add(ip)
        name = f"ip-{ip.replace('.', '-')}.{region}.compute.internal"
        kubelet = Client(
            {"username": f"system:node:{name}", "groups": ["system:nodes", "system:authenticated"]},
            client_go_agent("kubelet"),
            [ip],
            authz_annotations("allow", ""),
        )
        proxy = Client(
            {"username": "system:kube-proxy", "groups": ["system:authenticated"]},
            client_go_agent("kube-proxy"),
            [ip],
            authz_annotations(
                "allow", rbac_reason("system:node-proxier", "system:node-proxier", 'User "system:kube-proxy"')
            ),
        )
        nodes.append(Node(name, ip, kubelet, proxy, uuid4(rng)))
    return nodes


def heartbeat_status() -> JSON:
    """The strategic-merge patch of a plain node heartbeat; its time is the hole ``ts``."""
    types = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
    return {
        "status": {
            "$setElementOrder/conditions": [{"type": t} for t in types],
            "conditions": [{"lastHeartbeatTime": "@@ts@@", "type": t} for t in types],
        }
    }


def node_images_patch(rng: random.Random) -> Template:
    """A heartbeat that also reports the node's image list (5-20 KB)."""
    patch = heartbeat_status()
    images = []
    for _ in range(rng.randint(25, 70)):
        repo = f"registry.example.com/{rng.choice(('shop', 'platform', 'data'))}/{rng.choice(APPS)}"
        images.append(
            {
                "names": [
                    f"{repo}@sha256:{hex_digits(rng, 64)}",
                    f"{repo}:{rng.randint(1, 3)}.{rng.randint(0, 60)}.{rng.randint(0, 9)}",
                ],
                "sizeBytes": rng.randint(5_000_000, 900_000_000),
            }
        )
    patch["status"]["images"] = images
    return Template.of(patch)
