"""``nonresource`` (12 %): health checks, metrics scrapes and discovery; no objectRef."""

from __future__ import annotations

from ..request import Request
from ..shapes import lognormal_us
from ..vocabulary import KCM_CONTROLLERS, NONRESOURCE_ANON, NONRESOURCE_DISCOVERY
from ..world import World


def build(world: World, now: int) -> Request:
    """A ``get`` of a non-resource URL: half by anonymous probes, the rest by Prometheus and discovery."""
    rng = world.rng
    clients = world.clients
    draw = rng.random()
    if draw < 0.5:  # load balancers and probes polling health endpoints anonymously
        client, path = rng.choice(clients.anonymous), rng.choice(NONRESOURCE_ANON)
    elif draw < 0.65:  # Prometheus scraping the apiserver
        client, path = clients.controllers["prometheus-k8s"], "/metrics"
    elif draw < 0.85:  # client-go discovery from controllers
        client = clients.controllers[rng.choice(KCM_CONTROLLERS)]
        path = rng.choice(NONRESOURCE_DISCOVERY) + "?timeout=32s"
    else:  # kubectl's discovery
        client, path = world.pick_human(), rng.choice(NONRESOURCE_DISCOVERY) + "?timeout=32s"
    return Request(client, "Metadata", "get", path, None, latency_us=lognormal_us(rng, 900))
