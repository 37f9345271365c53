"""The broker settings the helper renders: listeners, security, overrides, environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from devtools.kafka import Broker, KafkaDevError
from devtools.kafka.env import broker_from_env, ports_from_env, second_ports_from_env
from devtools.kafka.jars import POM
from devtools.kafka.properties import parse_overrides, parse_properties, render_properties
from devtools.kafka.settings import (
    KAFKA_VERSION,
    BrokerPorts,
    ListenerNames,
    TlsStores,
    broker_settings,
    helper_listeners,
)


def test_ports_are_laid_out_around_the_base_port() -> None:
    ports = BrokerPorts.from_base(19092)
    assert ports.as_dict() == {
        "plaintext": 19092,
        "controller": 19093,
        "sasl_plaintext": 19094,
        "ssl": 19095,
        "sasl_ssl": 19096,
        "mtls": 19097,
        "wrong_host": 19098,
    }
    assert BrokerPorts.from_base(19092, sasl_plaintext=19099).sasl_plaintext == 19099


@pytest.mark.parametrize("explicit", [{"controller": 19092}, {"mtls": 70000}, {"nope": 1}])
def test_bad_ports_are_refused(explicit: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        BrokerPorts.from_base(19092, **explicit)


def test_helper_settings_name_every_listener_with_its_security(tmp_path: Path) -> None:
    broker = Broker(tmp_path, BrokerPorts.from_base(19092))
    s = broker.settings
    assert s["listeners"] == (
        "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,"
        "SASL_PLAINTEXT://127.0.0.1:19094,SSL://127.0.0.1:19095,SASL_SSL://127.0.0.1:19096,"
        "MTLS://127.0.0.1:19097,WRONG_HOST://127.0.0.2:19098"
    )
    # The controller is not advertised to clients; every other listener is, where it binds.
    assert "CONTROLLER" not in s["advertised.listeners"]
    assert "WRONG_HOST://127.0.0.2:19098" in s["advertised.listeners"]
    assert s["listener.security.protocol.map"] == (
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        "SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,"
        "MTLS:SSL,WRONG_HOST:SSL"
    )
    assert s["controller.quorum.voters"] == "1@127.0.0.1:19093"
    # Only the MTLS listener demands a client certificate.
    assert [k for k in s if k.endswith("ssl.client.auth")] == ["listener.name.mtls.ssl.client.auth"]
    assert s["listener.name.mtls.ssl.client.auth"] == "required"
    assert s["ssl.keystore.type"] == s["ssl.truststore.type"] == "PEM"
    assert s["ssl.keystore.location"] == str(tmp_path / "tls" / "broker-keystore.pem")
    # SASL on both SASL listeners, with the same mechanisms and the same PLAIN user.
    for name in ("sasl_plaintext", "sasl_ssl"):
        assert s[f"listener.name.{name}.sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
        assert 'user_auditpipe="auditpipe-secret"' in s[f"listener.name.{name}.plain.sasl.jaas.config"]
    assert s["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert s["allow.everyone.if.no.acl.found"] == "true"
    assert s["super.users"] == "User:ANONYMOUS"
    assert s["log.dirs"] == str(tmp_path / "data")


def test_listener_names_can_be_changed(tmp_path: Path) -> None:
    listeners = helper_listeners(BrokerPorts.from_base(19092), ListenerNames(sasl_plaintext="SASL", mtls="CLIENTCERT"))
    renamed = broker_settings(listeners, log_dirs=str(tmp_path), tls=TlsStores(tmp_path / "k.pem", tmp_path / "ca.pem"))
    assert "SASL://127.0.0.1:19094" in renamed["listeners"]
    assert renamed["listener.name.sasl.sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    assert renamed["listener.name.clientcert.ssl.client.auth"] == "required"


def test_tls_listeners_need_stores(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need key and trust stores"):
        broker_settings(helper_listeners(BrokerPorts.from_base(19092)), log_dirs=str(tmp_path))


def test_overrides_win_but_cannot_touch_what_the_helper_owns(tmp_path: Path) -> None:
    broker = Broker(
        tmp_path,
        BrokerPorts.from_base(19092),
        overrides={"auto.create.topics.enable": "false", "log.retention.ms": "60000"},
    )
    assert broker.settings["auto.create.topics.enable"] == "false"
    assert broker.settings["log.retention.ms"] == "60000"
    for key in ("listeners", "log.dirs", "controller.quorum.voters"):
        with pytest.raises(ValueError, match=key):
            Broker(tmp_path, BrokerPorts.from_base(19092), overrides={key: "x"})


def test_properties_round_trip() -> None:
    settings = {"a.b": "1", "path": r"C:\temp\x", "jaas": 'Module required user_x="y";'}
    text = render_properties(settings, ["header"])
    assert text.startswith("# header\n")
    assert parse_properties(text) == settings
    with pytest.raises(ValueError):
        render_properties({"bad key": "x"})
    with pytest.raises(ValueError):
        render_properties({"k": "two\nlines"})


def test_overrides_from_the_environment_variable() -> None:
    assert parse_overrides(" a=1\tb.c=x=y ") == {"a": "1", "b.c": "x=y"}
    with pytest.raises(ValueError):
        parse_overrides("novalue")


def test_environment_selects_home_ports_and_overrides(tmp_path: Path) -> None:
    env = {
        "KAFKA_DEV_HOME": str(tmp_path / "h"),
        "KAFKA_DEV_PORT": "19092",
        "KAFKA_DEV_SASL_PORT": "19099",
        "KAFKA_DEV_OVERRIDES": "auto.create.topics.enable=false",
        "KAFKA_DEV_CDS": "0",
    }
    broker = broker_from_env(env)
    assert broker.paths.home == tmp_path / "h"
    assert broker.bootstrap == "127.0.0.1:19092"
    assert broker.sasl_bootstrap == "127.0.0.1:19099"
    assert broker.settings["auto.create.topics.enable"] == "false"
    assert broker.options.cds is False
    assert second_ports_from_env(env).plaintext == 19192
    assert second_ports_from_env({**env, "KAFKA_DEV_SECOND_PORT": "19292"}).plaintext == 19292
    with pytest.raises(KafkaDevError, match="KAFKA_DEV_PORT"):
        ports_from_env({"KAFKA_DEV_PORT": "x"})
    with pytest.raises(KafkaDevError, match="must differ"):
        ports_from_env({"KAFKA_DEV_PORT": "19092", "KAFKA_DEV_SSL_PORT": "19092"})


def test_the_pom_resolves_the_same_kafka_version() -> None:
    default = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert default is not None and default.group(1) == KAFKA_VERSION
