"""Small builders for Kubernetes shapes: URLs, objectRefs, statuses, managedFields and seeded ids.

Everything random takes the seeded :class:`random.Random` explicitly, so the same
seed always draws the same numbers in the same order.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any, Final

from .encoding import JSON, go_json
from .vocabulary import K8S_COMMIT, K8S_VERSION, WORDS

NAME_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String

_UUID_CLEAR: Final = ~((0xF << 76) | (0x3 << 62))
_UUID_SET: Final = (0x4 << 76) | (0x2 << 62)  # version 4, RFC 4122 variant

# fieldsV1 keys list items by these fields (the schema's list-map keys); other lists are atomic.
LIST_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "containers": ("name",),
    "env": ("name",),
    "ports": ("containerPort", "protocol"),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "conditions": ("type",),
    "ownerReferences": ("uid",),
    "podIPs": ("ip",),
    "hostIPs": ("ip",),
}


# ---- requests ----


def api_path(group: str, version: str, resource: str, namespace: str = "", name: str = "", sub: str = "") -> str:
    """The request path of a resource: ``/api/v1/...`` for the core group, ``/apis/<group>/<version>/...`` else."""
    segments = ["/api/v1" if not group else f"/apis/{group}/{version}"]
    if namespace:
        segments.append(f"namespaces/{namespace}")
    segments.append(resource)
    if name:
        segments.append(name)
    if sub:
        segments.append(sub)
    return "/".join(segments)


def object_ref(
    resource: str,
    namespace: str = "",
    name: str = "",
    *,
    group: str = "",
    version: str = "v1",
    uid: str = "",
    rv: str = "",
    sub: str = "",
) -> dict[str, str]:
    """objectRef in Go field order, empty fields omitted."""
    ref = {"resource": resource}
    for key, value in (
        ("namespace", namespace),
        ("name", name),
        ("uid", uid),
        ("apiGroup", group),
        ("apiVersion", version),
        ("resourceVersion", rv),
        ("subresource", sub),
    ):
        if value:
            ref[key] = value
    return ref


def failure(code: int, reason: str, message: str, details: JSON) -> str:
    """An encoded metav1.Status for a failed request."""
    return go_json(
        {"metadata": {}, "status": "Failure", "message": message, "reason": reason, "details": details, "code": code}
    )


def kind_of(resource: str, group: str) -> str:
    """``resource.group`` as NotFound messages name it (the bare resource for the core group)."""
    return f"{resource}.{group}" if group else resource


def rbac_reason(binding: str, role: str, subject: str) -> str:
    """The RBAC authorizer's ``authorization.k8s.io/reason`` for an allowed request."""
    return f'RBAC: allowed by ClusterRoleBinding "{binding}" of ClusterRole "{role}" to {subject}'


def system_reason(user: str) -> str:
    """The reason for a system user bound to the ClusterRole of its own name."""
    return rbac_reason(user, user, f'User "{user}"')


def client_go_agent(binary: str, suffix: str = "", platform: str = "linux/amd64") -> str:
    """client-go's default User-Agent: ``<binary>/<version> (<os>/<arch>) kubernetes/<commit>``."""
    return f"{binary}/{K8S_VERSION} ({platform}) kubernetes/{K8S_COMMIT[:7]}{suffix}"


# ---- seeded values ----


def uuid4(rng: random.Random) -> str:
    """A random (version 4) UUID from the seeded RNG; uuid.UUID would be 4x slower for the same text."""
    bits = (rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hex_digits(rng: random.Random, digits: int) -> str:
    """``digits`` random lower-case hex digits (image digests, container ids)."""
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def name_suffix(rng: random.Random, k: int = 5) -> str:
    """A generated-name suffix, as ReplicaSets and generateName produce them."""
    return "".join(rng.choices(NAME_ALPHABET, k=k))


def lognormal_us(rng: random.Random, median_us: float, sigma: float = 0.8) -> int:
    """A request latency in µs: log-normal around ``median_us``, never under 150 µs."""
    return max(150, int(rng.lognormvariate(0.0, sigma) * median_us))


def sentence(rng: random.Random, words: int) -> str:
    """A capitalised sentence of ``words`` random words (CRD descriptions)."""
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


# ---- objects ----


def sorted_map(items: Mapping[str, Any]) -> JSON:
    """A Go map: keys come out sorted."""
    return dict(sorted(items.items()))


def fields_v1(obj: Mapping[str, Any]) -> JSON:
    """The managedFields ``fieldsV1`` set for every field present in ``obj`` (sorted, as the apiserver writes it)."""
    return {f"f:{key}": field_set(key, value) for key, value in sorted(obj.items())}


def field_set(key: str, value: object) -> JSON:
    """The ``fieldsV1`` entry of one field: nested for maps, keyed by :data:`LIST_KEYS` for list-maps."""
    if isinstance(value, dict):
        inner = fields_v1(value)
        return {".": {}, **inner} if inner else {}
    if isinstance(value, list) and key in LIST_KEYS and all(isinstance(v, dict) for v in value):
        keyed: JSON = {".": {}} if key in ("podIPs", "hostIPs") else {}
        for item in value:
            item_key = json.dumps({k: item[k] for k in LIST_KEYS[key]}, separators=(",", ":"))
            keyed[f"k:{item_key}"] = {".": {}, **fields_v1(item)}
        return dict(sorted(keyed.items()))
    return {}


def managed_entry(
    manager: str,
    fields: JSON,
    *,
    time_slot: str = "ts",
    subresource: str = "",
    operation: str = "Update",
    api_version: str = "v1",
) -> JSON:
    """One ``metadata.managedFields`` entry; its time is the template hole ``time_slot``."""
    entry: JSON = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": f"@@{time_slot}@@",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }
    if subresource:
        entry["subresource"] = subresource
    return entry
