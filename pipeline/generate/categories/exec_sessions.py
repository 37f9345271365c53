"""``exec`` (0.4 %): ``kubectl exec`` and ``attach`` sessions.

The stream is hijacked (101 Switching Protocols) at ResponseStarted; the
ResponseComplete with the same auditID follows when the session ends, seconds
to minutes later.
"""

from __future__ import annotations

from ..request import COMPLETE, STARTED, SWITCHING, Request, render
from ..shapes import api_path, lognormal_us, object_ref, uuid4
from ..world import World


def build(world: World, now: int) -> tuple[bytes, int, bytes]:
    """(ResponseStarted line at ``now``, end of the session in µs, ResponseComplete line) of one session."""
    rng = world.rng
    app = rng.choice(world.apps)
    namespace, pod = rng.choice(app.namespaces), world.pod_name(app)
    sub = "exec" if rng.random() < 0.8 else "attach"
    if sub == "exec":
        command = rng.choice(("sh", "bash", "env", "cat&command=/etc/hosts"))
        query = f"?command={command}&container={app.name}&stdin=true&stdout=true&tty=true"
    else:
        query = f"?container={app.name}&stdin=true&stdout=true&tty=true"
    uri = api_path("", "v1", "pods", namespace, pod, sub) + query
    request = Request(
        world.pick_human(),
        rng.choice(("Metadata", "Request", "Request")),
        "create",
        uri,
        object_ref("pods", namespace, pod, sub=sub),
        status=SWITCHING,
    )
    audit_id = uuid4(rng)
    received = now - lognormal_us(rng, 40_000)
    ended = now + int(rng.lognormvariate(0.0, 1.0) * 20_000_000)  # sessions last seconds to minutes
    complete = render(request, audit_id, COMPLETE, received, ended)
    return render(request, audit_id, STARTED, received, now), ended, complete
