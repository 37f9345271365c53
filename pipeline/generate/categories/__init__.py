"""One builder per category of the event mix.

Most builders describe one request (:class:`~pipeline.generate.request.Request`)
and leave its stages to the stream; watches and exec sessions are long-running
and write their own stages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..request import Request
from ..world import World
from . import (
    controller_reads,
    event_creates,
    exec_sessions,
    failures,
    impersonation,
    large_objects,
    leases,
    node_status,
    nonresource,
    pod_writes,
    secrets_configmaps,
    watches,
)

__all__ = ["REQUEST_BUILDERS", "exec_sessions", "watches"]

REQUEST_BUILDERS: Final[dict[str, Callable[[World, int], Request]]] = {
    "lease": leases.build,
    "controller_read": controller_reads.build,
    "nonresource": nonresource.build,
    "secret_configmap": secrets_configmaps.build,
    "event_create": event_creates.build,
    "node_status": node_status.build,
    "pod_write": pod_writes.build,
    "failed": failures.build,
    "impersonated": impersonation.build,
    "large": large_objects.build,
}
