"""ConfigMaps of the simulated cluster: Helm-managed app configs and the autoscaler's status."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..encoding import JSON, Template
from ..shapes import fields_v1, managed_entry, sorted_map, uuid4
from ..vocabulary import APP_NAMESPACES, APPS, WORDS


@dataclass(slots=True)
class ConfigMap:
    """One ConfigMap: its create request and the stored object (holes ``uid``, ``rv``, ``ts``)."""

    name: str
    namespace: str
    uid: str
    create_request: Template
    full: Template


def config_text(rng: random.Random, target: int) -> str:
    """Plausible config file text (YAML, nginx, XML) of about ``target`` characters."""
    style = rng.choice(("yaml", "nginx", "xml"))
    lines: list[str] = []
    size = 0
    while size < target:
        a, b = rng.choice(WORDS), rng.choice(WORDS)
        if style == "yaml":
            line = f"{a}.{b}.{rng.choice(WORDS)}: {rng.choice(('true', '30s', str(rng.randint(1, 9999))))}"
        elif style == "nginx":
            line = (
                f"location /{a}/{b} {{ proxy_pass http://{rng.choice(APPS)}.prod.svc:8080; "
                f"proxy_set_header X-{a.capitalize()} $http_{b}; }}"
            )
        else:
            line = f'  <logger name="com.example.{a}.{b}" level="{rng.choice(("INFO", "DEBUG", "WARN"))}"/>'
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


def make_configmap(rng: random.Random, name: str, namespace: str, data: JSON, manager: str) -> ConfigMap:
    """A ConfigMap holding ``data``, last written by ``manager``."""
    uid = uuid4(rng)
    labels = sorted_map({"app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/name": name})
    request = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None, "labels": labels},
        "data": sorted_map(data),
    }
    meta = {
        "name": name,
        "namespace": namespace,
        "uid": "@@uid@@",
        "resourceVersion": "@@rv@@",
        "creationTimestamp": "@@ts@@",
        "labels": labels,
        "managedFields": [
            managed_entry(manager, {"f:data": fields_v1(data), "f:metadata": {"f:labels": fields_v1(labels)}})
        ],
    }
    full = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": meta, "data": sorted_map(data)}
    return ConfigMap(name, namespace, uid, Template.of(request), Template.of(full))


def make_configmaps(rng: random.Random) -> list[ConfigMap]:
    """The autoscaler's status map and eleven app configs of 0.8-14 KB."""
    maps = [
        make_configmap(
            rng,
            "cluster-autoscaler-status",
            "kube-system",
            {"status": config_text(rng, rng.randint(1_500, 3_000))},
            "cluster-autoscaler",
        )
    ]
    for app in rng.sample(APPS, 11):
        namespace = rng.choice(APP_NAMESPACES[:3])
        # Sizes log-uniform from 0.8 to 14 KB: most config maps are small, a few carry whole files.
        size = int(800 * (14_000 / 800) ** rng.random())
        maps.append(make_configmap(rng, f"{app}-config", namespace, {"config.yaml": config_text(rng, size)}, "helm"))
    return maps
