"""A real Apache Kafka broker for the integration tests.

KAFKA_BOOTSTRAP_SERVERS selects a running broker (more variables can name its SASL and
TLS listeners: see ``devtools/kafka/endpoints.py``; tests needing a listener it lacks
skip). Otherwise ``devtools.kafka`` starts one from Maven Central jars (Java 17 + Maven)
with the same environment as ``scripts/kafka-dev`` (KAFKA_DEV_HOME, KAFKA_DEV_PORT, ...),
or reuses the one already running in that home. Without Java or Maven the Kafka tests
skip with a message saying how to enable them, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from typing import NoReturn

import pytest

from devtools.kafka import Broker, KafkaDevError
from devtools.kafka.endpoints import Endpoints
from devtools.kafka.env import broker_from_env, options_from_env, second_ports_from_env, version_from_env

SecondBroker = Callable[[Mapping[str, str] | None], Broker]


def _ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip (fail under CI) because a broker or one of its listeners is missing."""
    if _ci():
        pytest.fail(f"CI must run the Kafka tests, but: {reason}")
    pytest.skip(reason)


def _require_java_and_maven() -> None:
    options = options_from_env()
    missing = [tool for tool in (options.java, options.mvn[0]) if shutil.which(tool) is None]
    if missing:
        unavailable(
            f"no Kafka broker ({' and '.join(missing)} not found); set KAFKA_BOOTSTRAP_SERVERS=host:port, "
            "or install Java 17 and Maven so devtools.kafka can start one"
        )


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[Endpoints]:
    """The session's broker; ``.broker`` is the helper's :class:`Broker` (None if external)."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield Endpoints.external()
        return
    _require_java_and_maven()
    broker = broker_from_env()
    try:
        started_here = broker.start()
    except KafkaDevError as exc:
        unavailable(f"no Kafka broker: devtools.kafka could not start one:\n{str(exc)[-3000:]}")
    yield Endpoints.of(broker)
    if started_here:
        broker.stop()


@pytest.fixture
def second_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecondBroker]:
    """Starts another broker, in its own home, on the second port range
    (KAFKA_DEV_SECOND_PORT, default KAFKA_DEV_PORT + 100), with the given overrides;
    stopped when the test ends. One per test: they would share the ports."""
    made: list[Broker] = []

    def start(overrides: Mapping[str, str] | None = None) -> Broker:
        if made:
            raise RuntimeError("one second broker per test: they share the second port range")
        _require_java_and_maven()
        broker = Broker(
            tmp_path_factory.mktemp("second-broker"),
            second_ports_from_env(),
            overrides=overrides,
            version=version_from_env(),
            options=options_from_env(),
        )
        made.append(broker)
        broker.start()  # a failure here is the helper's own failure: the test fails with its message
        return broker

    yield start
    for broker in made:
        broker.stop()
