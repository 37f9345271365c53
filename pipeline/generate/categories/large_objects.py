"""``large`` (0.6 %): the 200 KB+ RequestResponse tail (pod lists, dashboard ConfigMaps, CRD applies)."""

from __future__ import annotations

from ..encoding import k8s_time
from ..request import Request
from ..shapes import api_path, object_ref, uuid4
from ..world import World


def build(world: World, now: int) -> Request:
    """One request of the tail, always at RequestResponse and slow enough for latency annotations."""
    rng = world.rng
    large = rng.choice(world.large)
    values = {"rv": world.rv(), "uid": uuid4(rng), "ts": k8s_time(now - 40 * 86_400_000_000)}
    latency = int(rng.uniform(0.3, 2.5) * 1_000_000)  # big bodies are slow: latency annotations appear
    if large.kind == "podlist":  # kubectl get pods -A -o yaml
        return Request(
            rng.choice(world.clients.humans),
            "RequestResponse",
            "list",
            "/api/v1/pods?limit=500",
            object_ref("pods"),
            latency_us=latency,
            response_body=large.first.render(values),
        )
    client = world.clients.controllers["argocd-application-controller"]
    name = large.name
    if large.second is None:  # the dashboard ConfigMap: the whole object goes in and comes back
        request_body = large.first.render(values)
        values["rv"] = world.rv()
        uri = api_path("", "v1", "configmaps", "monitoring", name)
        ref = object_ref("configmaps", "monitoring", name, uid=values["uid"], rv=values["rv"])
        return Request(
            client,
            "RequestResponse",
            "update",
            uri,
            ref,
            latency_us=latency,
            request_body=request_body,
            response_body=large.first.render(values),
        )
    uri = (
        api_path("apiextensions.k8s.io", "v1", "customresourcedefinitions", name=name)
        + "?fieldManager=argocd-controller&force=true"
    )
    ref = object_ref("customresourcedefinitions", name=name, group="apiextensions.k8s.io")
    return Request(
        client,
        "RequestResponse",
        "patch",
        uri,
        ref,
        latency_us=latency,
        request_body=large.first.render(values),
        response_body=large.second.render(values),
    )
