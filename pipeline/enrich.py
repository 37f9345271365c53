"""Enrichment: annotations that say where an output event came from and why
it was kept, under a configurable prefix (``auditpipe.io/`` by default):
``rule``, ``original-level``, ``source`` (file:line or topic/partition/offset),
``cluster`` (when configured), ``envelope`` (the managed platform's export it
came out of) and ``synthesized`` (fields rebuilt rather than recorded, GKE)."""

from __future__ import annotations

import msgspec
from msgspec import Raw

from .config import Enrichment
from .events import AnyEvent, Event
from .model import encode

_decode_annotations = msgspec.json.Decoder(dict[str, str] | None).decode


class Enricher:
    """Adds ``rule``, ``original-level``, ``source`` and (if set) ``cluster``."""

    __slots__ = (
        "_cluster",
        "_heads",
        "_k_cluster",
        "_k_envelope",
        "_k_level",
        "_k_rule",
        "_k_source",
        "_k_synthesized",
        "_tail",
    )

    def __init__(self, enrichment: Enrichment) -> None:
        prefix = enrichment.annotation_prefix
        self._k_rule = prefix + "rule"
        self._k_level = prefix + "original-level"
        self._k_source = prefix + "source"
        self._k_cluster = prefix + "cluster"
        self._k_envelope = prefix + "envelope"
        self._k_synthesized = prefix + "synthesized"
        self._cluster = enrichment.cluster_name
        # For ``encoded``: the members before the source, per (rule, level), and the cluster's.
        self._heads: dict[tuple[int, str], bytes] = {}
        self._tail = b"," + encode(self._k_cluster) + b":" + encode(self._cluster) if self._cluster else b""

    def _pairs(self, event: AnyEvent, rule_index: int) -> list[tuple[str, str]]:
        pairs = [(self._k_rule, str(rule_index)), (self._k_level, event.level), (self._k_source, event.source)]
        if self._cluster:
            pairs.append((self._k_cluster, self._cluster))
        if event.envelope:
            pairs.append((self._k_envelope, event.envelope))
        if event.synthesized:
            pairs.append((self._k_synthesized, event.synthesized))
        return pairs

    def merge(self, current: Raw | bytes | None, event: AnyEvent, rule_index: int) -> bytes | None:
        """The annotations value ``current`` with this event's added, encoded; None to leave it as it is.

        Annotations that are not a string map are left exactly as they are:
        rewriting them would change what the apiserver recorded.
        """
        annotations: dict[str, str] = {}
        if current is not None:
            try:
                annotations = _decode_annotations(current) or {}
            except msgspec.ValidationError:
                return None
        annotations.update(self._pairs(event, rule_index))
        return encode(annotations)

    def encoded(self, event: AnyEvent, rule_index: int) -> bytes:
        """This event's annotations as encoded members (``"k":"v",…``), for the compiled splice:
        the same bytes ``merge`` gives them."""
        head = self._heads.get((rule_index, event.level))
        if head is None:
            head = b"%s:%s,%s:%s,%s:" % (
                encode(self._k_rule),
                encode(str(rule_index)),
                encode(self._k_level),
                encode(event.level),
                encode(self._k_source),
            )
            if len(self._heads) < 4096:
                self._heads[(rule_index, event.level)] = head
        out = head + encode(event.source) + self._tail
        if event.envelope:
            out += b"," + encode(self._k_envelope) + b":" + encode(event.envelope)
        if event.synthesized:
            out += b"," + encode(self._k_synthesized) + b":" + encode(event.synthesized)
        return out

    def annotate(self, event: Event, rule_index: int) -> None:
        """Add the annotations to ``event.fields`` in place (see ``merge``)."""
        merged = self.merge(event.fields.get("annotations"), event, rule_index)
        if merged is not None:
            event.fields["annotations"] = Raw(merged)
