"""``pod_write`` (6 %): pod creates by the replicaset-controller, full updates, and kubelet
``pods/status`` patches, with requestObject/responseObject bodies carrying managedFields."""

from __future__ import annotations

from ..encoding import k8s_time
from ..request import CREATED, Request, authz_annotations
from ..shapes import api_path, lognormal_us, object_ref
from ..world import World


def build(world: World, now: int) -> Request:
    """A create (40 %), a full update (30 %) or a status patch (30 %) of one of an app's pods."""
    rng = world.rng
    app = rng.choice(world.apps)
    namespace = rng.choice(app.namespaces)
    node = rng.choice(world.nodes)
    values = world.pod_values(app, namespace, now, node)
    draw = rng.random()
    if draw < 0.4:  # the replicaset-controller creates pods from generateName: no name in objectRef
        values["ts"] = k8s_time(now)
        uri = api_path("", "v1", "pods", namespace)
        controller = world.clients.controllers["replicaset-controller"]
        # Pod Security admission records its verdict next to the authorizer's.
        annotations = authz_annotations(
            "allow",
            controller.annotations["authorization.k8s.io/reason"],
            {"pod-security.kubernetes.io/enforce-policy": "baseline:latest"},
        )
        level = rng.choice(("RequestResponse",) * 4 + ("Request",))
        return Request(
            controller,
            level,
            "create",
            uri,
            object_ref("pods", namespace),
            status=CREATED,
            latency_us=lognormal_us(rng, 12_000),
            request_body=app.create_request.render(values),
            response_body=app.create_response.render(values),
            annotations=annotations,
        )
    if draw < 0.7:  # a full update (PUT) sends the whole object back, managedFields included
        client = rng.choice((world.clients.controllers["argocd-application-controller"], world.pick_human()))
        request_body = app.full.render(values)
        values["rv"] = world.rv()
        uri = api_path("", "v1", "pods", namespace, values["name"])
        ref = object_ref("pods", namespace, values["name"], uid=values["uid"], rv=values["rv"])
        return Request(
            client,
            rng.choice(("RequestResponse",) * 7 + ("Request",) * 3),
            "update",
            uri,
            ref,
            latency_us=lognormal_us(rng, 10_000),
            request_body=request_body,
            response_body=app.full.render(values),
        )
    uri = api_path("", "v1", "pods", namespace, values["name"], "status")
    return Request(
        node.kubelet,
        "Request",
        "patch",
        uri,
        object_ref("pods", namespace, values["name"], sub="status"),
        latency_us=lognormal_us(rng, 6_000),
        request_body=app.status_patch.render(values),
    )
