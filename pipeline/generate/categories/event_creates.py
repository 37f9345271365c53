"""``event_create`` (7 %): core Events from kubelets (created, or patched when repeated) and
``events.k8s.io`` Events from the scheduler; mostly at Request, with the Event as requestObject."""

from __future__ import annotations

from ..encoding import go_json, k8s_time, micro_time
from ..request import CREATED, Request
from ..shapes import api_path, lognormal_us, object_ref, uuid4
from ..world import World


def build(world: World, now: int) -> Request:
    """One Event write about one of an app's pods."""
    rng = world.rng
    app = rng.choice(world.apps)
    namespace = rng.choice(app.namespaces)
    pod = world.pod_name(app)
    event_name = f"{pod}.{now * 1_000 + rng.randrange(1_000):x}"
    level = rng.choice(("Request",) * 6 + ("Metadata",) * 3 + ("RequestResponse",))
    latency = lognormal_us(rng, 4_000)
    if rng.random() < 0.15:  # the scheduler reports bindings through events.k8s.io/v1
        scheduler = world.clients.scheduler
        node_name = rng.choice(world.nodes).name
        text = go_json(
            {
                "kind": "Event",
                "apiVersion": "events.k8s.io/v1",
                "metadata": {"name": event_name, "namespace": namespace, "creationTimestamp": None},
                "eventTime": micro_time(now),
                "reportingController": "default-scheduler",
                "reportingInstance": f"default-scheduler-{scheduler.source_ips[0]}",
                "action": "Binding",
                "reason": "Scheduled",
                "regarding": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod,
                    "uid": uuid4(rng),
                    "apiVersion": "v1",
                    "resourceVersion": world.rv(),
                },
                "note": f"Successfully assigned {namespace}/{pod} to {node_name}",
                "type": "Normal",
            }
        )
        uri = api_path("events.k8s.io", "v1", "events", namespace)
        return Request(
            scheduler,
            level,
            "create",
            uri,
            object_ref("events", namespace, event_name, group="events.k8s.io"),
            status=CREATED,
            latency_us=latency,
            request_body=text,
        )
    node = rng.choice(world.nodes)
    request_t, response_t = rng.choice(app.event_bodies)
    values = {
        "name": event_name,
        "ns": namespace,
        "pod": pod,
        "pod_uid": uuid4(rng),
        "pod_rv": world.rv(),
        "node": node.name,
        "ts": k8s_time(now),
        "uid": uuid4(rng),
        "rv": world.rv(),
        "pod_ip": f"10.244.{rng.randrange(256)}.{rng.randrange(2, 254)}",
    }
    if rng.random() < 0.15:  # a repeated event: the kubelet bumps the count with a patch
        patch = go_json({"count": rng.randint(2, 40), "lastTimestamp": k8s_time(now)})
        uri = api_path("", "v1", "events", namespace, event_name)
        return Request(
            node.kubelet,
            level,
            "patch",
            uri,
            object_ref("events", namespace, event_name),
            latency_us=latency,
            request_body=patch,
        )
    uri = api_path("", "v1", "events", namespace)
    return Request(
        node.kubelet,
        level,
        "create",
        uri,
        object_ref("events", namespace, event_name),
        status=CREATED,
        latency_us=latency,
        request_body=request_t.render(values),
        response_body=response_t.render(values),
    )
