"""The hot path: a synchronous, pure function over a batch of records.

``Processor.process(values, sources)`` decodes each record, evaluates the
policy for the whole batch in one call into the compiled matcher, applies the
level, enriches, routes with the selectors (one more batch call) and encodes.
It does no I/O and never raises for bad input: unreadable records come back
as ``RecordError`` dead letters. The Kafka runner and the offline CLI both
call it, so what the tests and benchmarks measure is what runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec
from msgspec import Raw

from _fastmatch import Matcher

from . import policy as policy_mod
from .config import Config, Output
from .errors import RecordError
from .events import LEVEL_RANK, LEVELS, Event, decode_record
from .levels import apply_level

_encode = msgspec.json.encode
_decode_annotations = msgspec.json.Decoder(dict[str, str] | None).decode
NO_RULE = -1


@dataclass(slots=True)
class Stats:
    """Counters for one batch, or summed over many (``add``)."""

    records_in: int = 0
    events_in: int = 0
    events_out: int = 0
    rejected: int = 0
    dropped_by_rule: Counter[int] = field(default_factory=Counter)  # -1: no rule matched
    dropped_by_stage: Counter[int] = field(default_factory=Counter)
    out_by_level: Counter[str] = field(default_factory=Counter)
    in_by_level: Counter[str] = field(default_factory=Counter)
    out_by_output: Counter[str] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, other: Stats) -> None:
        self.records_in += other.records_in
        self.events_in += other.events_in
        self.events_out += other.events_out
        self.rejected += other.rejected
        self.dropped_by_rule.update(other.dropped_by_rule)
        self.dropped_by_stage.update(other.dropped_by_stage)
        self.out_by_level.update(other.out_by_level)
        self.in_by_level.update(other.in_by_level)
        self.out_by_output.update(other.out_by_output)
        self.rejected_by_reason.update(other.rejected_by_reason)

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by_rule.values()) + sum(self.dropped_by_stage.values())


@dataclass(slots=True)
class OutRecord:
    """One encoded output event. ``key`` is the auditID (the Kafka message key)."""

    key: bytes
    value: bytes
    index: int  # position of the input record in the batch


@dataclass(slots=True)
class Batch:
    events: list[OutRecord]  # every kept event once, in input order
    outputs: dict[str, list[OutRecord]]  # the same records, by output name
    dead_letters: list[tuple[int, RecordError]]
    stats: Stats


class Processor:
    """Built once from a policy and a config; ``process`` is then called per batch.

    Parameters
    ----------
    loaded_policy
        A validated policy.
    config
        Enrichment, limits and outputs (with their selectors).
    """

    def __init__(self, loaded_policy: policy_mod.LoadedPolicy, config: Config) -> None:
        self.policy = loaded_policy
        self.config = config
        self._rules = loaded_policy.compiled_rules()
        self._policy_matcher = Matcher(loaded_policy.matcher_rules())
        self._outputs: list[Output] = list(config.outputs)
        self._default_output = config.default_output.name
        # A selector has a policy rule's fields and semantics, plus the levels.
        selector_rules = [policy_mod.rule_to_matcher(o.selector, tuple(o.selector.levels)) for o in self._outputs]
        self._selector_matcher = Matcher(selector_rules) if selector_rules else None
        self._output_names = [o.name for o in self._outputs]
        enrich = config.enrichment
        self._enrich = enrich.enabled
        prefix = enrich.annotation_prefix
        self._k_rule = prefix + "rule"
        self._k_level = prefix + "original-level"
        self._k_source = prefix + "source"
        self._k_cluster = prefix + "cluster"
        self._cluster = enrich.cluster_name
        self._max_bytes = config.limits.max_record_bytes

    def process(self, values: Sequence[bytes], sources: Sequence[str]) -> Batch:
        """Run one batch. ``sources[i]`` names where ``values[i]`` came from."""
        stats = Stats(records_in=len(values))
        events: list[Event] = []
        owners: list[int] = []
        dead: list[tuple[int, RecordError]] = []
        errors: list[RecordError] = []
        max_bytes = self._max_bytes
        for i, value in enumerate(values):
            before = len(events)
            decode_record(value, sources[i], events, errors, max_bytes)
            owners.extend([i] * (len(events) - before))
            if errors:
                dead.extend((i, e) for e in errors)
                errors.clear()
        stats.events_in = len(events)
        stats.rejected = len(dead)
        for _, err in dead:
            stats.rejected_by_reason[err.code.value] += 1

        matches = self._policy_matcher.first_many([e.request for e in events])
        kept: list[tuple[Event, int, int, int]] = []  # (event, rule index, applied rank, record index)
        rules = self._rules
        in_levels = [0, 0, 0, 0]
        out_levels = [0, 0, 0, 0]
        dropped_by_rule = stats.dropped_by_rule
        dropped_by_stage = stats.dropped_by_stage
        for event, rule_index, owner in zip(events, matches, owners):
            recorded = LEVEL_RANK[event.level]
            in_levels[recorded] += 1
            if rule_index == NO_RULE:
                dropped_by_rule[NO_RULE] += 1
                continue
            rule = rules[rule_index]
            rank = rule.rank if rule.rank < recorded else recorded
            if rank == 0:
                # Level None, or recorded at None (kube-apiserver never writes that): nothing to keep.
                dropped_by_rule[rule_index] += 1
                continue
            if event.stage in rule.omit_stages:
                dropped_by_stage[rule_index] += 1
                continue
            # One scan of the record decides whether any body can hold managed fields.
            omf = rule.omit_managed_fields and b"managedFields" in event.raw
            apply_level(event.fields, rank, event.level, event.verb, omf)
            out_levels[rank] += 1
            kept.append((event, rule_index, rank, owner))
        for rank, name in enumerate(LEVELS):
            if in_levels[rank]:
                stats.in_by_level[name] += in_levels[rank]
            if out_levels[rank]:
                stats.out_by_level[name] += out_levels[rank]

        routes = self._route(kept)
        outputs: dict[str, list[OutRecord]] = {}
        kept_records: list[OutRecord] = []
        enrich = self._annotate if self._enrich else None
        by_output = stats.out_by_output
        for (event, rule_index, rank, owner), names in zip(kept, routes):
            if enrich is not None:
                enrich(event, rule_index)
            record = OutRecord(event.audit_id.encode(), _encode(event.fields), owner)
            kept_records.append(record)
            for name in names:
                bucket = outputs.get(name)
                if bucket is None:
                    outputs[name] = bucket = []
                bucket.append(record)
        for name, bucket in outputs.items():
            by_output[name] += len(bucket)
        stats.events_out = len(kept_records)
        return Batch(kept_records, outputs, dead, stats)

    def _route(self, kept: list[tuple[Event, int, int, int]]) -> list[list[str]]:
        default = [self._default_output]
        if self._selector_matcher is None:
            return [default] * len(kept)
        requests = []
        for event, _, rank, _ in kept:
            req = event.request
            requests.append(req[:10] + (LEVELS[rank],))
        masks = self._selector_matcher.all_many(requests)
        names = self._output_names
        routes = []
        for mask in masks:
            if not mask:
                routes.append(default)
                continue
            chosen = []
            i = 0
            while mask:
                if mask & 1:
                    chosen.append(names[i])
                mask >>= 1
                i += 1
            routes.append(chosen)
        return routes

    def _annotate(self, event: Event, rule_index: int) -> None:
        fields = event.fields
        current = fields.get("annotations")
        annotations: dict[str, str] = {}
        if current is not None:
            try:
                annotations = _decode_annotations(current) or {}
            except msgspec.ValidationError:
                annotations = {}  # malformed annotations: keep them as they are
                return
        annotations[self._k_rule] = str(rule_index)
        annotations[self._k_level] = event.level
        annotations[self._k_source] = event.source
        if self._cluster:
            annotations[self._k_cluster] = self._cluster
        fields["annotations"] = Raw(_encode(annotations))
