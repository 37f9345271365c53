"""The state of one simulated cluster: everything a seed precomputes, and the values that move."""

from __future__ import annotations

import random

from ..encoding import Template, k8s_time
from ..request import Client
from ..shapes import name_suffix, uuid4
from ..vocabulary import APPS
from .apps import App, make_app
from .clients import Clients
from .configmaps import make_configmaps
from .large import make_large
from .nodes import Node, heartbeat_status, make_nodes, node_images_patch


class World:
    """A cluster of 40-120 nodes, its clients, apps, config maps and tail objects, built from ``rng``.

    The category builders read it and draw from its RNG; :meth:`rv` is the one
    cluster-wide etcd revision, which only moves forward.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._rv = 48_000_000 + rng.randrange(1_000_000)
        self.region = rng.choice(("eu-west-1", "us-east-1", "ap-southeast-2", "eu-central-1"))
        self.control_plane = [f"10.0.0.{10 + i}" for i in range(3)]
        self.clients = Clients(rng, self.region, self.control_plane)
        self.nodes = make_nodes(rng, rng.randint(40, 120), self.region)
        self.apps = [make_app(rng, name) for name in APPS]
        self.image_patches = [node_images_patch(rng) for _ in range(4)]
        self.heartbeat_patch = Template.of(heartbeat_status())
        self.configmaps = make_configmaps(rng)
        self.large = make_large(rng, self.apps, self.nodes, self.pod_values)

    def rv(self) -> str:
        """The next resourceVersion: one cluster-wide etcd revision that only moves forward."""
        self._rv += self.rng.randint(1, 9)
        return str(self._rv)

    def pod_name(self, app: App) -> str:
        """A fresh name of one of ``app``'s pods (``<app>-<rs hash>-<suffix>``)."""
        return f"{app.name}-{app.rs_hash}-{name_suffix(self.rng)}"

    def pod_values(self, app: App, namespace: str, now: int, node: Node) -> dict[str, str]:
        """The template holes of one running pod of ``app`` on ``node``, created up to 30 days before ``now``."""
        rng = self.rng
        created = now - rng.randrange(60, 30 * 86_400) * 1_000_000
        return {
            "name": self.pod_name(app),
            "ns": namespace,
            "uid": uuid4(rng),
            "rv": self.rv(),
            "ts": k8s_time(created),
            "ts_status": k8s_time(created + rng.randrange(5, 120) * 1_000_000),
            "node": node.name,
            "host_ip": node.ip,
            "pod_ip": f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}",
        }

    def pick_human(self) -> Client:
        """One of the people using kubectl."""
        return self.rng.choice(self.clients.humans)
