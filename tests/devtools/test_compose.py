"""docker-compose.yml runs the same broker as the helper (Docker is not needed: the
compose file and the settings file it mounts are parsed and compared)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from devtools.kafka import Broker, BrokerPorts
from devtools.kafka.compose import (
    COMPOSE_BOOTSTRAP,
    COMPOSE_FILE,
    CONFIG_DIR,
    CONFIG_SCRIPT,
    IMAGE,
    MOUNT_POINT,
    PROPERTIES_FILE,
    compose_properties_text,
    compose_scram_command,
    compose_settings,
    scram_user_commands,
)
from devtools.kafka.properties import parse_properties
from devtools.kafka.settings import COMPOSE_PORTS, compose_listeners

# Settings that say where things are, so they differ by nature between the two.
PLACEMENT = {
    "listeners",
    "advertised.listeners",
    "listener.security.protocol.map",
    "controller.quorum.voters",
    "log.dirs",
}
# Listeners only the helper has (their certificates are made per machine at start).
HELPER_ONLY_LISTENERS = ("ssl", "sasl_ssl", "mtls", "wrong_host")


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return doc


def test_the_mounted_file_is_the_generated_one() -> None:
    assert PROPERTIES_FILE.read_text() == compose_properties_text(), (
        "devtools/kafka/compose/server.properties is stale: run "
        "`scripts/kafka-dev compose-config > devtools/kafka/compose/server.properties`"
    )
    assert sorted(p.name for p in CONFIG_DIR.iterdir()) == ["server.properties"]  # the image copies the whole dir


def test_compose_mounts_it_into_the_image_and_sets_nothing_over_it() -> None:
    kafka = _compose()["services"]["kafka"]
    assert kafka["image"] == IMAGE
    mounts = [v.split(":") for v in kafka["volumes"]]
    assert [CONFIG_DIR, MOUNT_POINT] in [[(COMPOSE_FILE.parent / m[0]).resolve(), m[1]] for m in mounts]
    # Every KAFKA_* variable would be appended to (and win over) the mounted file; only the
    # start script's heap variable may be there.
    assert [k for k in kafka["environment"] if k.startswith("KAFKA_")] == ["KAFKA_HEAP_OPTS"]
    assert len(kafka["environment"]["CLUSTER_ID"]) == 22


def test_compose_publishes_what_it_advertises() -> None:
    published = _compose()["services"]["kafka"]["ports"]
    advertised = {x.role: x for x in compose_listeners() if x.role != "controller"}
    assert sorted(published) == sorted(
        f"{x.advertised_host}:{x.port}:{COMPOSE_PORTS[x.role]}" for x in advertised.values()
    )
    assert parse_properties(PROPERTIES_FILE.read_text())["advertised.listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://127.0.0.1:9094"
    )


def test_compose_and_helper_settings_agree(tmp_path: Path) -> None:
    helper = Broker(tmp_path, BrokerPorts.from_base(9092)).settings
    compose = parse_properties(PROPERTIES_FILE.read_text())
    assert compose == compose_settings()
    assert set(compose) - set(helper) == set()
    helper_only = set(helper) - set(compose)
    tls_prefixes = tuple(f"listener.name.{role}." for role in HELPER_ONLY_LISTENERS) + ("ssl.",)
    assert helper_only and all(k.startswith(tls_prefixes) for k in helper_only), sorted(helper_only)
    differing = {k for k in compose if compose[k] != helper[k]}
    assert differing == {"listeners", "advertised.listeners", "listener.security.protocol.map", "log.dirs"}
    assert differing <= PLACEMENT
    # Same quorum, same ports for the listeners both have.
    assert compose["controller.quorum.voters"] == helper["controller.quorum.voters"] == "1@127.0.0.1:9093"
    for listener in ("PLAINTEXT://", "SASL_PLAINTEXT://"):
        assert next(x for x in compose["advertised.listeners"].split(",") if x.startswith(listener)) == next(
            x for x in helper["advertised.listeners"].split(",") if x.startswith(listener)
        )


def test_compose_creates_the_scram_users_the_helper_formats_with() -> None:
    init = _compose()["services"]["kafka-scram-users"]
    assert init["image"] == IMAGE
    assert init["network_mode"] == "service:kafka"
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert init["entrypoint"] == ["/bin/sh", "-c"]
    assert init["command"] == [compose_scram_command()]
    # Each command, as the shell will split it, is kafka-configs.sh with the helper's arguments
    # (tests/kafka/test_broker.py runs those arguments against the real broker).
    commands = [shlex.split(part) for part in init["command"][0].split(" && ")]
    assert commands == [[CONFIG_SCRIPT, *args] for args in scram_user_commands(COMPOSE_BOOTSTRAP)]
