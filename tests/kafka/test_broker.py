"""The broker helper itself, against the real broker: the TLS listeners, the ACL that makes
a produce fail for good, the command line, and the lifecycle of a second broker with its
own settings."""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from devtools import net
from devtools.kafka import Broker, BrokerError
from devtools.kafka.admin import list_topics
from devtools.kafka.compose import CONFIG_TOOL, scram_user_commands
from devtools.kafka.endpoints import Endpoints
from devtools.kafka.process import pid_alive
from devtools.kafka.tls import client_ssl_context

from ..conftest import ROOT
from .conftest import SecondBroker, unavailable
from .util import create_topics, read_all, unique

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


def _owned(kafka_broker: Endpoints) -> Broker:
    if kafka_broker.broker is None:
        pytest.skip("the broker comes from KAFKA_BOOTSTRAP_SERVERS: this test needs one devtools.kafka runs")
    return kafka_broker.broker


async def _round_trip(topic: str, **client: Any) -> list[bytes]:
    """Produce one record and read it back, both over the given connection settings."""
    producer = AIOKafkaProducer(acks="all", request_timeout_ms=15000, **client)
    await asyncio.wait_for(producer.start(), 30)
    try:
        await producer.send_and_wait(topic, b"over-tls")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", enable_auto_commit=False, **client)
    await asyncio.wait_for(consumer.start(), 30)
    try:
        batch = await consumer.getmany(timeout_ms=10000)
        return [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()


def _connection_error(**client: Any) -> str | None:
    """None if a client gets through to the broker, else the error it got."""

    async def go() -> None:
        producer = AIOKafkaProducer(request_timeout_ms=10000, **client)
        try:
            await asyncio.wait_for(producer.start(), 30)
        finally:
            await producer.stop()

    try:
        asyncio.run(go())
    except (TimeoutError, KafkaError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        _collect_failed_connections()
    return None


def _collect_failed_connections() -> None:
    # aiokafka 0.14 does not close the transport of a connection whose TLS handshake failed.
    # Collect it here, where a failed handshake is the point of the test, instead of letting
    # its ResourceWarning surface in a later test (warnings are errors in this suite).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _tls(kafka_broker: Endpoints, listener: str) -> tuple[str, Path]:
    address = getattr(kafka_broker, listener)
    if address is None or kafka_broker.ca_file is None:
        unavailable(f"the external broker has no {listener} listener (see devtools/kafka/endpoints.py)")
    return address, kafka_broker.ca_file


def test_tls_listener_carries_records(kafka_broker: Endpoints) -> None:
    address, ca = _tls(kafka_broker, "ssl")
    topic = unique("tls")
    asyncio.run(create_topics(kafka_broker.bootstrap, [topic]))
    got = asyncio.run(
        _round_trip(topic, bootstrap_servers=address, security_protocol="SSL", ssl_context=client_ssl_context(ca))
    )
    assert got == [b"over-tls"]


def test_sasl_ssl_with_scram_sha_512(kafka_broker: Endpoints) -> None:
    address, ca = _tls(kafka_broker, "sasl_ssl")
    topic = unique("sasl-ssl")
    asyncio.run(create_topics(kafka_broker.bootstrap, [topic]))
    client = dict(
        bootstrap_servers=address,
        security_protocol="SASL_SSL",
        ssl_context=client_ssl_context(ca),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=kafka_broker.sasl_user,
    )
    assert asyncio.run(_round_trip(topic, **client, sasl_plain_password=kafka_broker.sasl_password)) == [b"over-tls"]
    assert _connection_error(**client, sasl_plain_password="wrong") is not None


def test_mtls_needs_a_client_certificate_from_the_ca(kafka_broker: Endpoints, tmp_path: Path) -> None:
    address, ca = _tls(kafka_broker, "mtls")
    if kafka_broker.client_cert is None or kafka_broker.client_key is None:
        unavailable("no client certificate for the external broker (KAFKA_TLS_CLIENT_CERT, KAFKA_TLS_CLIENT_KEY)")
    topic = unique("mtls")
    asyncio.run(create_topics(kafka_broker.bootstrap, [topic]))
    with_cert = client_ssl_context(ca, kafka_broker.client_cert, kafka_broker.client_key)
    assert asyncio.run(
        _round_trip(topic, bootstrap_servers=address, security_protocol="SSL", ssl_context=with_cert)
    ) == [b"over-tls"]
    assert (
        _connection_error(bootstrap_servers=address, security_protocol="SSL", ssl_context=client_ssl_context(ca))
        is not None
    )
    if kafka_broker.broker is not None:
        tls = kafka_broker.broker.tls
        other = client_ssl_context(ca, tls.wrong_client_cert, tls.wrong_client_key)
        assert _connection_error(bootstrap_servers=address, security_protocol="SSL", ssl_context=other) is not None


def test_the_wrong_ca_and_the_wrong_host_are_refused(kafka_broker: Endpoints) -> None:
    broker = _owned(kafka_broker)
    tls = broker.tls
    error = _connection_error(
        bootstrap_servers=broker.ssl_bootstrap,
        security_protocol="SSL",
        ssl_context=client_ssl_context(tls.wrong_ca_file),
    )
    assert error is not None
    # 127.0.0.2 reaches the broker, but its certificate does not name it.
    assert (
        _connection_error(
            bootstrap_servers=broker.wrong_host_bootstrap,
            security_protocol="SSL",
            ssl_context=client_ssl_context(tls.ca_file),
        )
        is not None
    )
    assert (
        _connection_error(
            bootstrap_servers=broker.wrong_host_bootstrap,
            security_protocol="SSL",
            ssl_context=client_ssl_context(tls.ca_file, check_hostname=False),
        )
        is None
    )


def test_a_denied_topic_fails_produce_for_good_and_only_there(kafka_broker: Endpoints) -> None:
    broker = _owned(kafka_broker)
    denied, allowed = unique("audit.denied"), unique("audit.allowed")
    asyncio.run(create_topics(broker.bootstrap, [denied, allowed]))
    broker.deny_write(denied)
    as_user = dict(
        bootstrap_servers=broker.sasl_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=broker.sasl_user,
        sasl_plain_password=broker.sasl_password,
    )

    async def produce(topic: str, **client: Any) -> None:
        producer = AIOKafkaProducer(acks="all", enable_idempotence=True, request_timeout_ms=15000, **client)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"v")
        finally:
            await producer.stop()

    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(produce(denied, **as_user))
    asyncio.run(produce(allowed, **as_user))
    # Everyone else still writes there, and the denied user still reads it.
    asyncio.run(produce(denied, bootstrap_servers=broker.bootstrap))
    records = asyncio.run(read_all(broker.bootstrap, denied, expect=1, timeout_secs=30))
    assert [r.value for r in records] == [b"v"]
    consumer_records = asyncio.run(_read_as(denied, as_user))
    assert consumer_records == [b"v"]


async def _read_as(topic: str, client: dict[str, Any]) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", enable_auto_commit=False, **client)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10000)
        return [r.value for records in batch.values() for r in records]
    finally:
        await consumer.stop()


def test_the_compose_scram_command_is_accepted_by_the_broker(kafka_broker: Endpoints) -> None:
    """docker-compose.yml cannot run here; its SCRAM command runs against this broker instead."""
    broker = _owned(kafka_broker)
    for args in scram_user_commands(broker.bootstrap):
        result = broker.jvm().run_tool(CONFIG_TOOL, args)
        assert result.returncode == 0, result.stdout
        assert "Completed updating config for user auditpipe" in result.stdout
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        assert (
            _connection_error(
                bootstrap_servers=broker.sasl_bootstrap,
                security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=mechanism,
                sasl_plain_username=broker.sasl_user,
                sasl_plain_password=broker.sasl_password,
            )
            is None
        )


def test_the_command_line_finds_the_running_broker(kafka_broker: Endpoints) -> None:
    broker = _owned(kafka_broker)
    kafka_dev = str(ROOT / "scripts" / "kafka-dev")
    env = {**os.environ, "KAFKA_DEV_HOME": str(broker.paths.home), "KAFKA_DEV_PORT": str(broker.ports.plaintext)}
    for verb in ("status", "start"):  # start: already running, nothing to do
        result = subprocess.run([kafka_dev, verb], capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == broker.bootstrap
        assert str(broker.tls.ca_file) in result.stderr
    topic = unique("cli-denied")
    result = subprocess.run([kafka_dev, "deny-write", topic], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert f"User:auditpipe may no longer write to {topic}" in result.stderr

    made, other = unique("cli-made"), unique("cli-other")
    create = [kafka_dev, "create-topics", made, "--partitions", "3", "--config", "max.message.bytes=16777216"]
    result = subprocess.run(create, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert f"created: {made}; already there: none" in result.stderr
    result = subprocess.run([*create[:2], made, other], capture_output=True, text=True, timeout=120, env=env)
    assert f"created: {other}; already there: {made}" in result.stderr  # idempotent
    assert {made, other} <= set(asyncio.run(list_topics(broker.bootstrap)))


def test_second_broker_lifecycle_with_its_own_settings(second_broker: SecondBroker, kafka_broker: Endpoints) -> None:
    broker = second_broker({"auto.create.topics.enable": "false"})
    assert broker.bootstrap != kafka_broker.bootstrap
    first_pid = broker.status.pid
    assert first_pid is not None and broker.status.running

    # Idempotent start, also from another object for the same home; other settings are refused.
    assert broker.start() is False
    again = Broker(
        broker.paths.home, broker.ports, overrides={"auto.create.topics.enable": "false"}, options=broker.options
    )
    assert again.status.pid == first_pid and again.start() is False
    with pytest.raises(BrokerError, match="other settings"):
        Broker(broker.paths.home, broker.ports, options=broker.options).start()

    # The override is in force: a produce to a missing topic does not create it.
    missing = unique("missing")
    assert _connection_error_on_send(broker.bootstrap, missing) is not None
    assert missing not in asyncio.run(list_topics(broker.bootstrap))

    kept = unique("kept")
    asyncio.run(create_topics(broker.bootstrap, [kept]))
    asyncio.run(_produce_one(broker.bootstrap, kept))

    broker.kill()  # a crash: SIGKILL, the data stays as it was
    assert not pid_alive(first_pid) and not broker.status.running
    assert broker.start() is True
    assert [r.value for r in asyncio.run(read_all(broker.bootstrap, kept, expect=1, timeout_secs=60))] == [b"kept"]

    crashed_pid = broker.status.pid
    # Through another object for the same home, dropped while the broker it started runs:
    # nothing may be left to warn about then (warnings are errors in this suite).
    Broker(
        broker.paths.home, broker.ports, overrides={"auto.create.topics.enable": "false"}, options=broker.options
    ).restart()
    gc.collect()
    assert broker.status.running and broker.status.pid not in (first_pid, crashed_pid)
    assert [r.value for r in asyncio.run(read_all(broker.bootstrap, kept, expect=1, timeout_secs=60))] == [b"kept"]
    assert "Kafka Server started" in broker.logs(200)

    broker.stop()
    assert not broker.status.running
    assert not any(net.port_in_use(x.port, x.bind_host) for x in broker.listeners)
    broker.reset()
    assert not broker.paths.data.exists() and not broker.paths.tls.exists()
    assert broker.logs().startswith("(no broker log")


def _connection_error_on_send(bootstrap: str, topic: str) -> str | None:
    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"x")
        finally:
            await producer.stop()

    try:
        asyncio.run(go())
    except KafkaError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def _produce_one(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"kept")
    finally:
        await producer.stop()
