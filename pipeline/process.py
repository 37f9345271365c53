"""The hot path: a synchronous, pure function over a batch of records.

``Processor.process(values, origins)`` decodes each record, evaluates the
policy for the whole batch in one call into the compiled matcher, decides and
applies the level, enriches, routes with the selectors (one more batch call)
and encodes. It does no I/O and never raises for bad input: unreadable
records come back as ``Rejection`` dead letters. Every source and sink goes
through it, so what the tests and benchmarks measure is what runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from _fastmatch import Matcher, Scanner

from .config import Config
from .decode import RecordDecoder
from .enrich import Enricher
from .errors import Rejection
from .events import AnyEvent, Event
from .levels import apply_level, cut_managed_fields, decide
from .model import LEVEL_RANK, LEVELS, REQUEST, decode_str, encode
from .policy import LoadedPolicy
from .route import Router

NO_RULE = -1


@dataclass(slots=True)
class Stats:
    """Counters for one batch, or summed over many (``add``)."""

    records_in: int = 0
    events_in: int = 0
    events_out: int = 0
    rejected: int = 0
    # (reason, rule index): reasons from levels (NO_RULE comes with index -1).
    dropped_by: Counter[tuple[str, int]] = field(default_factory=Counter)
    out_by_level: Counter[str] = field(default_factory=Counter)
    in_by_level: Counter[str] = field(default_factory=Counter)
    out_by_output: Counter[str] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    # Records that are not audit events (platform health checks, klog text): counted, not rejected.
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, other: Stats) -> None:
        self.records_in += other.records_in
        self.events_in += other.events_in
        self.events_out += other.events_out
        self.rejected += other.rejected
        self.dropped_by.update(other.dropped_by)
        self.out_by_level.update(other.out_by_level)
        self.in_by_level.update(other.in_by_level)
        self.out_by_output.update(other.out_by_output)
        self.rejected_by_reason.update(other.rejected_by_reason)
        self.skipped.update(other.skipped)

    def reject(self, error: Rejection) -> None:
        """Count a record rejected before it reached ``process`` (by its source)."""
        self.records_in += 1
        self.rejected += 1
        self.rejected_by_reason[error.code.value] += 1

    @property
    def dropped(self) -> int:
        return sum(self.dropped_by.values())


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
    dead_letters: list[tuple[int, Rejection]]  # (input record index, error)
    stats: Stats


class Processor:
    """Built once from a policy and a config; ``process`` is then called per batch.

    Parameters
    ----------
    loaded_policy
        A validated policy.
    config
        Enrichment, limits and outputs (with their selectors).
    compiled_pass
        Read events with the compiled one-pass scanner and splice their output
        (``_fastmatch/_scan.pyx``) when it is built; False: the reference path
        only (events.py, levels.py, enrich.py). Both give the same bytes.
    """

    def __init__(self, loaded_policy: LoadedPolicy, config: Config, *, compiled_pass: bool = True) -> None:
        self.policy = loaded_policy
        self.config = config
        self._rules = loaded_policy.compiled_rules()
        self._policy_matcher = Matcher(loaded_policy.matcher_rules())
        self._router = Router(config.outputs, config.default_output.name)
        self._enricher = Enricher(config.enrichment) if config.enrichment.enabled else None
        scanner = None
        if compiled_pass and Scanner is not None:
            scanner = Scanner(config.enrichment.annotation_prefix, decode_str)
        self._decoder = RecordDecoder(config.limits.max_record_bytes, tuple(config.decoding.record_keys), scanner)
        self._scan_many = scanner.scan_many if scanner is not None else None
        self._decisions: dict[tuple[int, str, str], tuple[int, int, str, bool]] = {}
        self._max_bytes = config.limits.max_record_bytes

    def _decision(self, key: tuple[int, str, str]) -> tuple[int, int, str, bool]:
        """What ``decide`` says for an event of this level and stage that matched this rule,
        remembered: a batch repeats a few dozen combinations."""
        rule_index, level, stage = key
        recorded = LEVEL_RANK[level]
        rule = None if rule_index == NO_RULE else self._rules[rule_index]
        if rule is None:
            rank, reason = decide(None, frozenset(), recorded, stage)
        else:
            rank, reason = decide(rule.rank, rule.omit_stages, recorded, stage)
        # Below Request no body is kept, so there are no managed fields to remove.
        omf = rule is not None and rule.omit_managed_fields and rank >= REQUEST
        decision = (recorded, rank, reason, omf)
        if len(self._decisions) < 4096:  # bounded: levels and stages are checked, rules are few
            self._decisions[key] = decision
        return decision

    def _decode(
        self, values: Sequence[bytes], origins: Sequence[str], stats: Stats
    ) -> tuple[list[AnyEvent], list[int], list[tuple[int, Rejection]]]:
        events: list[AnyEvent] = []
        owners: list[int] = []
        dead: list[tuple[int, Rejection]] = []
        errors: list[Rejection] = []
        decoder = self._decoder
        decode = decoder.decode
        # The compiled scanner takes what it can of the batch in one call; the rest
        # (envelopes, other shapes, anything odd or bad) goes the reference way.
        scanned = self._scan_many(values, origins, self._max_bytes) if self._scan_many is not None else None
        for i, value in enumerate(values):
            if scanned is not None:
                event = scanned[i]
                if event is not None:
                    events.append(event)
                    owners.append(i)
                    continue
            before = len(events)
            decode(value, origins[i], events, errors)
            added = len(events) - before
            if added == 1:  # the common case: no list to build
                owners.append(i)
            elif added:
                owners.extend([i] * added)
            if errors:
                dead.extend((i, e) for e in errors)
                errors.clear()
        if decoder.skipped:
            stats.skipped.update(decoder.skipped)
            decoder.skipped.clear()
        stats.events_in = len(events)
        stats.rejected = len(dead)
        for _, err in dead:
            stats.rejected_by_reason[err.code.value] += 1
        return events, owners, dead

    def process(self, values: Sequence[bytes], origins: Sequence[str]) -> Batch:
        """Run one batch. ``origins[i]`` names where ``values[i]`` came from."""
        stats = Stats(records_in=len(values))
        events, owners, dead = self._decode(values, origins, stats)

        matches = self._policy_matcher.first_many([e.request for e in events])
        # (event, rule index, applied rank, record index, omit managed fields)
        kept: list[tuple[AnyEvent, int, int, int, bool]] = []
        in_levels = [0, 0, 0, 0]
        out_levels = [0, 0, 0, 0]
        dropped_by = stats.dropped_by
        decisions = self._decisions
        for event, rule_index, owner in zip(events, matches, owners):
            # (recorded rank, applied rank, why dropped, omit managed fields), by rule, level and stage.
            key = (rule_index, event.level, event.stage)
            decision = decisions.get(key)
            if decision is None:
                decision = self._decision(key)
            recorded, rank, reason, omf = decision
            in_levels[recorded] += 1
            if reason:
                dropped_by[(reason, rule_index)] += 1
                continue
            if type(event) is Event:
                # One scan of the record decides whether any body can hold managed fields.
                # (A scanned event's splice looks in each body itself.)
                omf = omf and b"managedFields" in event.raw
                apply_level(event.fields, rank, event.level, event.verb, omf)
            out_levels[rank] += 1
            kept.append((event, rule_index, rank, owner, omf))
        for rank, name in enumerate(LEVELS):
            if in_levels[rank]:
                stats.in_by_level[name] += in_levels[rank]
            if out_levels[rank]:
                stats.out_by_level[name] += out_levels[rank]

        router = self._router
        if router.uses_requests:
            routes = router.routes([event.request[:10] + (LEVELS[rank],) for event, _, rank, _, _ in kept])
        else:
            routes = router.routes_by_default(len(kept))
        outputs: dict[str, list[OutRecord]] = {}
        kept_records: list[OutRecord] = []
        enricher = self._enricher
        for (event, rule_index, rank, owner, omf), names in zip(kept, routes):
            if isinstance(event, Event):
                if enricher is not None:
                    enricher.annotate(event, rule_index)
                value = encode(event.fields)
            elif enricher is None:
                value = event.render(rank, omf, None, None, cut_managed_fields)
            elif event.annotations_simple:
                value = event.render(rank, omf, enricher.encoded(event, rule_index), None, cut_managed_fields)
            else:
                merged = enricher.merge(event.annotations_raw, event, rule_index)
                value = event.render(rank, omf, b"", merged, cut_managed_fields)
            record = OutRecord(event.audit_id.encode(), value, owner)
            kept_records.append(record)
            for name in names:
                bucket = outputs.get(name)
                if bucket is None:
                    outputs[name] = bucket = []
                bucket.append(record)
        for name, bucket in outputs.items():
            stats.out_by_output[name] += len(bucket)
        stats.events_out = len(kept_records)
        return Batch(kept_records, outputs, dead, stats)
