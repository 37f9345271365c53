"""The 200 KB+ tail: all-namespaces pod lists, Grafana dashboard ConfigMaps and CRD applies."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..encoding import JSON, Template, go_json
from ..shapes import hex_digits, managed_entry, sentence
from ..vocabulary import APPS, EPOCH_US, WORDS
from .apps import App
from .configmaps import make_configmap
from .nodes import Node

# The tail is defined by size: every member must carry at least this much body.
_MIN_BODY_CHARS = 205_000

PodValues = Callable[[App, str, int, Node], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Large:
    """One 200 KB+ request of the tail."""

    kind: str  # "podlist", "dashboard" or "crd"
    name: str
    first: Template  # the PodList response, the ConfigMap, or the CRD apply patch
    second: Template | None = None  # the CRD as stored


def make_large(rng: random.Random, apps: Sequence[App], nodes: Sequence[Node], pod_values: PodValues) -> list[Large]:
    """Three pod lists, three dashboard ConfigMaps and two CRDs, each over 205,000 characters of body.

    ``pod_values`` fills one pod's template holes (it draws from ``rng`` and moves the
    cluster's resourceVersion).
    """
    out: list[Large] = []
    for _ in range(3):  # kubectl get pods -A -o yaml: one huge PodList response
        items: list[str] = []
        size, target = 0, rng.randint(210_000, 440_000)
        while size < target:
            app = rng.choice(apps)
            values = pod_values(app, rng.choice(app.namespaces), EPOCH_US, rng.choice(nodes))
            items.append(app.full.render(values))
            size += len(items[-1])
        text = (
            '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"@@rv@@"},"items":['
            + ",".join(items)
            + "]}"
        )
        out.append(Large("podlist", "", Template.from_text(text)))
    for _ in range(3):  # a Grafana dashboard kept in a ConfigMap, updated by the GitOps controller
        name = f"grafana-dashboard-{rng.choice(APPS)}"
        cm = make_configmap(
            rng,
            name,
            "monitoring",
            {f"{name}.json": dashboard(rng, rng.randint(105_000, 200_000))},
            "argocd-controller",
        )
        out.append(Large("dashboard", name, cm.full))
    for _ in range(2):  # a CRD with a big openAPIV3Schema, server-side applied
        request, response = crd(rng, rng.randint(105_000, 180_000))
        out.append(Large("crd", "storefronts.shop.example.com", request, response))
    for large in out:
        body = sum(len(p) for p in large.first.parts) * (2 if large.kind == "dashboard" else 1)
        body += sum(len(p) for p in large.second.parts) if large.second is not None else 0
        if body < _MIN_BODY_CHARS:
            raise AssertionError(f"large {large.kind} body is only {body} characters")
    return out


def dashboard(rng: random.Random, target: int) -> str:
    """A pretty-printed Grafana dashboard whose text, once JSON-escaped, is at least ``target`` long."""
    panels: list[JSON] = []
    estimate = 0
    while True:
        while estimate < target:
            panels.append(_panel(rng, len(panels)))
            dumped = json.dumps(panels[-1], indent=2)
            # In the whole document every panel line sits 4 spaces deeper; escaping adds the rest.
            estimate += len(go_json(dumped)) + 4 * (dumped.count("\n") + 1)
        text = json.dumps({"title": "Service overview", "uid": hex_digits(rng, 9), "panels": panels}, indent=2)
        estimate = len(go_json(text))
        if estimate >= target:
            return text


def _panel(rng: random.Random, index: int) -> JSON:
    app, metric = rng.choice(APPS), rng.choice(WORDS)
    return {
        "id": index + 1,
        "type": rng.choice(("timeseries", "stat", "heatmap")),
        "title": f"{app} {metric} <p99>",
        "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
        "targets": [
            {
                "expr": f'histogram_quantile(0.99, sum(rate({metric}_seconds_bucket{{namespace="prod",'
                f'app="{app}"}}[5m])) by (le, pod))',
                "legendFormat": "{{pod}}",
                "refId": "A",
            }
        ],
        "fieldConfig": {
            "defaults": {
                "unit": "s",
                "thresholds": {
                    "mode": "absolute",
                    "steps": [{"color": "green", "value": None}, {"color": "red", "value": 0.5}],
                },
            },
            "overrides": [],
        },
    }


def crd(rng: random.Random, target: int) -> tuple[Template, Template]:
    """(apply patch, stored object) of a CRD whose schema is about ``target`` characters."""
    properties: JSON = {}
    size = 0
    while size < target:
        name = f"{rng.choice(WORDS)}{rng.choice(WORDS).capitalize()}{len(properties)}"
        prop: JSON = {
            "description": sentence(rng, rng.randint(12, 40)),
            "type": "object",
            "properties": {
                f"{w}": {
                    "description": sentence(rng, rng.randint(6, 20)),
                    "type": rng.choice(("string", "integer", "boolean")),
                }
                for w in rng.sample(WORDS, rng.randint(3, 8))
            },
        }
        properties[name] = prop
        size += len(json.dumps(prop))
    group = "shop.example.com"
    spec = {
        "group": group,
        "names": {
            "kind": "Storefront",
            "listKind": "StorefrontList",
            "plural": "storefronts",
            "singular": "storefront",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {"spec": {"type": "object", "properties": properties}},
                    }
                },
            }
        ],
    }
    request = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"storefronts.{group}"},
        "spec": spec,
    }
    response = {
        "kind": "CustomResourceDefinition",
        "apiVersion": "apiextensions.k8s.io/v1",
        "metadata": {
            "name": f"storefronts.{group}",
            "uid": "@@uid@@",
            "resourceVersion": "@@rv@@",
            "generation": 7,
            "creationTimestamp": "@@ts@@",
            "managedFields": [
                managed_entry(
                    "argocd-controller", {"f:spec": {".": {}}}, operation="Apply", api_version="apiextensions.k8s.io/v1"
                )
            ],
        },
        "spec": {**spec, "conversion": {"strategy": "None"}},
        "status": {
            "conditions": [
                {
                    "type": "Established",
                    "status": "True",
                    "lastTransitionTime": "@@ts@@",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted",
                }
            ],
            "acceptedNames": spec["names"],
            "storedVersions": ["v1"],
        },
    }
    return Template.of(request), Template.of(response)
