"""The simulated cluster: nodes, clients, apps, config maps and the large objects of the tail."""

from __future__ import annotations

from .apps import App
from .cluster import World
from .configmaps import ConfigMap
from .large import Large
from .nodes import Node

__all__ = ["App", "ConfigMap", "Large", "Node", "World"]
