"""Build the components a config describes: sources, one sink per output, the
dead-letter output. One place, used by every command, so ``filter``, an
offline ``run`` and the service are wired the same way (as in vector's
topology builder)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .config import (
    Config,
    DeadLetterFile,
    DeadLetterKafka,
    FileOutput,
    HttpOutput,
    KafkaOutput,
    Output,
)
from .config import (
    FileSource as FileSourceConfig,
)
from .config import (
    KafkaSource as KafkaSourceConfig,
)
from .config import (
    LogSource as LogSourceConfig,
)
from .config import (
    WebhookSource as WebhookSourceConfig,
)
from .errors import ConfigError
from .observers import ComponentObserver, LagGauge
from .sinks.base import DeadLetterSink, Sink
from .sinks.file import FileSink, RejectsFile
from .sinks.report import FanOut, ReportedDeadLetters, logged_dead_letters
from .sinks.rotating import RotatingFileSink
from .sources.base import Source
from .sources.file import FileSource
from .sources.lines import SAMPLE_NAME

# The Kafka, webhook, log and HTTP components are imported where a config uses
# them: aiokafka and aiohttp cost a quarter of a second of every `filter` start.

# Sources that run until stopped: the service (metrics, readiness, workers).
LONG_RUNNING = (KafkaSourceConfig, WebhookSourceConfig, LogSourceConfig)


@dataclass(slots=True)
class Components:
    sources: list[Source]
    sinks: dict[str, Sink]
    dead_letters: DeadLetterSink
    long_running: bool


def _kafka_topics(config: Config) -> dict[str, str]:
    """Topic -> the output writing to it (the dead letters are ``dead_letters``)."""
    topics = {o.topic: o.name for o in [*config.outputs, config.default_output] if isinstance(o, KafkaOutput)}
    if isinstance(config.dead_letters, DeadLetterKafka):
        topics.setdefault(config.dead_letters.topic, "dead_letters")
    return topics


def _written_files(config: Config) -> frozenset[str]:
    """Files this pipeline writes: a log source never follows them."""
    paths = [o.path for o in [*config.outputs, config.default_output] if isinstance(o, FileOutput)]
    if isinstance(config.dead_letters, DeadLetterFile):
        paths.append(config.dead_letters.path)
    return frozenset(os.path.abspath(p) for p in paths if p != "-")


def assemble(
    config: Config,
    *,
    on_problem: Callable[[str], None],
    report: Callable[[str], None] | None = None,
    on_bytes: Callable[[int], None] | None = None,
    lag: LagGauge | None = None,
    observer: ComponentObserver | None = None,
) -> Components:
    """The components of ``config``.

    Parameters
    ----------
    on_problem
        Called with a message when an input cannot be read to its end.
    report
        Also report each dead letter as one line through this (the command
        line's stderr). Without it and without a configured dead-letter
        output, dead letters are logged.
    on_bytes
        Progress of file sources, in bytes.
    lag
        Consumer lag gauge for Kafka sources.
    observer
        Per-request observations of the webhook source and HTTP outputs.
    """
    topics = _kafka_topics(config)
    producer = None
    if topics and config.kafka is not None:
        from .kafka.producer import KafkaProducerHandle

        producer = KafkaProducerHandle(config.kafka, topics, topics, observer)

    sources: list[Source] = []
    for s in config.sources:
        if isinstance(s, FileSourceConfig):
            sources.append(FileSource(s.paths, config.limits, on_problem, on_bytes))
        elif isinstance(s, KafkaSourceConfig):
            from .sources.kafka import KafkaSource

            assert config.kafka is not None  # the config check guarantees it
            sources.append(KafkaSource(s, config.kafka, lag, config.limits.max_record_bytes))
        elif isinstance(s, LogSourceConfig):
            from .sources.logtail import LogSource

            sources.append(LogSource(s, config.limits, _written_files(config)))
        elif isinstance(s, WebhookSourceConfig):
            from .sources.webhook import WebhookSource

            max_body_bytes = s.max_body_bytes or config.limits.max_record_bytes
            sources.append(WebhookSource(s, max_body_bytes, observer))
        else:  # pragma: no cover - every Source type is handled above
            raise ConfigError(f"sources of type {type(s).__name__} are not available")
    if not sources:
        sources.append(FileSource([SAMPLE_NAME], config.limits, on_problem, on_bytes))

    def output(o: Output) -> Sink:
        if isinstance(o, FileOutput) and o.rotation is None:
            return FileSink(o.name, o.path, o.mode, o.fsync)
        if isinstance(o, FileOutput) and o.rotation is not None:
            return RotatingFileSink(o.name, o.path, o.rotation, fsync=o.fsync)
        if isinstance(o, KafkaOutput):
            from .sinks.kafka import KafkaSink

            assert producer is not None
            return KafkaSink(o.name, o.topic, producer)
        if isinstance(o, HttpOutput):
            from .sinks.http import HttpSink

            return HttpSink(o, observer)
        raise ConfigError(f"output {o.name}: this kind of output is not available yet")

    sinks = {o.name: output(o) for o in [*config.outputs, config.default_output]}

    dead: list[DeadLetterSink] = []
    if report is not None:
        dead.append(ReportedDeadLetters(report))
    if isinstance(config.dead_letters, DeadLetterFile):
        dead.append(RejectsFile(config.dead_letters.path, config.dead_letters.mode))
        if report is None:
            # The file keeps the records unchanged (to fix and replay); their reasons go to the log.
            dead.append(logged_dead_letters())
    elif isinstance(config.dead_letters, DeadLetterKafka):
        from .sinks.kafka import KafkaDeadLetters

        assert producer is not None
        dead.append(KafkaDeadLetters(config.dead_letters.topic, producer))
    if not dead:
        dead.append(logged_dead_letters())
    dead_letters = dead[0] if len(dead) == 1 else FanOut(dead)
    long_running = any(isinstance(s, LONG_RUNNING) for s in config.sources)
    return Components(sources, sinks, dead_letters, long_running)
