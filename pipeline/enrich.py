"""Enrichment: annotations that say where an output event came from and why
it was kept, under a configurable prefix (``auditpipe.io/`` by default):
``rule``, ``original-level``, ``source`` (file:line or topic/partition/offset),
``cluster`` (when configured), ``envelope`` (the managed platform's export it
came out of) and ``synthesized`` (fields rebuilt rather than recorded, GKE)."""

from __future__ import annotations

import msgspec
from msgspec import Raw

from .config import Enrichment
from .events import Event
from .model import encode

_decode_annotations = msgspec.json.Decoder(dict[str, str] | None).decode


class Enricher:
    """Adds ``rule``, ``original-level``, ``source`` and (if set) ``cluster``."""

    __slots__ = ("_cluster", "_k_cluster", "_k_envelope", "_k_level", "_k_rule", "_k_source", "_k_synthesized")

    def __init__(self, enrichment: Enrichment) -> None:
        prefix = enrichment.annotation_prefix
        self._k_rule = prefix + "rule"
        self._k_level = prefix + "original-level"
        self._k_source = prefix + "source"
        self._k_cluster = prefix + "cluster"
        self._k_envelope = prefix + "envelope"
        self._k_synthesized = prefix + "synthesized"
        self._cluster = enrichment.cluster_name

    def annotate(self, event: Event, rule_index: int) -> None:
        """Add the annotations to ``event.fields`` in place.

        Annotations that are not a string map are left exactly as they are:
        rewriting them would change what the apiserver recorded.
        """
        fields = event.fields
        current = fields.get("annotations")
        annotations: dict[str, str] = {}
        if current is not None:
            try:
                annotations = _decode_annotations(current) or {}
            except msgspec.ValidationError:
                return
        annotations[self._k_rule] = str(rule_index)
        annotations[self._k_level] = event.level
        annotations[self._k_source] = event.source
        if self._cluster:
            annotations[self._k_cluster] = self._cluster
        if event.envelope:
            annotations[self._k_envelope] = event.envelope
        if event.synthesized:
            annotations[self._k_synthesized] = event.synthesized
        fields["annotations"] = Raw(encode(annotations))
