"""The broker's settings: the one source of both the helper's ``server.properties``
and the one docker-compose.yml mounts into the official ``apache/kafka`` image.

Everything the two share (quorum, authorizer, SASL, replication factors, test
tuning) comes from :func:`broker_settings`; they differ only in where the
listeners bind, where the data lives and whether TLS listeners exist
(:func:`helper_listeners` and :func:`compose_listeners`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

# One Kafka version everywhere: the helper, devtools/kafka/pom.xml and docker-compose.yml
# (tests/devtools/test_settings.py checks the other two against this one).
KAFKA_VERSION = "4.1.2"

HOST = "127.0.0.1"
# The TLS listener that tests use for a hostname mismatch. Linux routes all of 127/8 to the
# loopback device, so the broker can bind 127.0.0.2 without any host setup, and the broker
# certificate names only 127.0.0.1 and localhost: a client that checks hostnames refuses it.
WRONG_HOST = "127.0.0.2"

SASL_USER = "auditpipe"
SASL_PASSWORD = "auditpipe-secret"
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_MECHANISMS = SASL_MECHANISMS[1:]

# PLAINTEXT, SSL without client certificates and the controller listener all authenticate
# as ANONYMOUS; the broker itself talks to the controller and to itself that way. Making
# ANONYMOUS a super user keeps everything that worked before the authorizer working.
SUPER_USERS = ("User:ANONYMOUS",)
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

SecurityProtocol = Literal["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"]

# Settings only the helper decides; an override of one of these would break the node.
PROTECTED_KEYS = frozenset(
    {
        "process.roles",
        "node.id",
        "controller.quorum.voters",
        "controller.quorum.bootstrap.servers",
        "listeners",
        "advertised.listeners",
        "listener.security.protocol.map",
        "controller.listener.names",
        "inter.broker.listener.name",
        "log.dirs",
        "metadata.log.dir",
    }
)


@dataclass(frozen=True)
class BrokerPorts:
    """Every listener's port. :meth:`from_base` gives the usual layout around one port P."""

    plaintext: int
    controller: int
    sasl_plaintext: int
    ssl: int
    sasl_ssl: int
    mtls: int
    wrong_host: int

    @classmethod
    def from_base(cls, base: int, **explicit: int) -> BrokerPorts:
        """Ports P (PLAINTEXT), P+1 (CONTROLLER), P+2 (SASL_PLAINTEXT), P+3 (SSL),
        P+4 (SASL_SSL), P+5 (MTLS), P+6 (WRONG_HOST), each replaceable by keyword.

        Parameters
        ----------
        base
            The PLAINTEXT port P.
        **explicit
            Ports to use instead of the default offset, by field name.

        Returns
        -------
        BrokerPorts
            The validated ports.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = set(explicit) - set(names)
        if unknown:
            raise ValueError(f"unknown listener port(s): {', '.join(sorted(unknown))}")
        ports = cls(**{name: explicit.get(name, base + offset) for offset, name in enumerate(names)})
        ports.validate()
        return ports

    def as_dict(self) -> dict[str, int]:
        """The ports by listener role, in listener order."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ValueError unless every port is a usable, distinct TCP port."""
        ports = self.as_dict()
        for role, port in ports.items():
            if not 1 <= port <= 65535:
                raise ValueError(f"the {role} port {port} is not a TCP port")
        if len(set(ports.values())) != len(ports):
            raise ValueError(f"listener ports must differ: {ports}")


@dataclass(frozen=True)
class ListenerNames:
    """The listener names Kafka sees (``listener.name.<name>.*`` settings use them)."""

    plaintext: str = "PLAINTEXT"
    controller: str = "CONTROLLER"
    sasl_plaintext: str = "SASL_PLAINTEXT"
    ssl: str = "SSL"
    sasl_ssl: str = "SASL_SSL"
    mtls: str = "MTLS"
    wrong_host: str = "WRONG_HOST"


# role -> (security protocol, client certificate required)
_PROTOCOLS: dict[str, tuple[SecurityProtocol, bool]] = {
    "plaintext": ("PLAINTEXT", False),
    "controller": ("PLAINTEXT", False),
    "sasl_plaintext": ("SASL_PLAINTEXT", False),
    "ssl": ("SSL", False),
    "sasl_ssl": ("SASL_SSL", False),
    "mtls": ("SSL", True),
    "wrong_host": ("SSL", False),
}


@dataclass(frozen=True)
class Listener:
    """One listener: its name, protocol, where it binds and what it advertises."""

    role: str
    name: str
    protocol: SecurityProtocol
    bind_host: str
    port: int
    advertised_host: str
    client_auth: bool = False

    @property
    def address(self) -> str:
        """``host:port`` as clients should use it."""
        return f"{self.advertised_host}:{self.port}"

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    @property
    def uses_sasl(self) -> bool:
        return self.protocol.startswith("SASL_")


def _listener(role: str, name: str, port: int, bind_host: str, advertised_host: str) -> Listener:
    protocol, client_auth = _PROTOCOLS[role]
    return Listener(role, name, protocol, bind_host, port, advertised_host, client_auth)


def helper_listeners(ports: BrokerPorts, names: ListenerNames = ListenerNames()) -> list[Listener]:
    """The helper's listeners: all on loopback, the WRONG_HOST one on 127.0.0.2.

    Parameters
    ----------
    ports
        The port of each listener.
    names
        The listener names.

    Returns
    -------
    list of Listener
        In :class:`BrokerPorts` field order.
    """
    result = []
    for role, port in ports.as_dict().items():
        host = WRONG_HOST if role == "wrong_host" else HOST
        result.append(_listener(role, getattr(names, role), port, host, host))
    return result


# docker-compose.yml publishes these on the host's loopback; the controller stays inside.
COMPOSE_PORTS = {"plaintext": 9092, "controller": 9093, "sasl_plaintext": 9094}
COMPOSE_DATA_DIR = "/var/lib/kafka/data"


def compose_listeners(names: ListenerNames = ListenerNames()) -> list[Listener]:
    """The container's listeners: PLAINTEXT and SASL_PLAINTEXT on every interface of the
    container (the port mapping needs that) advertised as 127.0.0.1, the controller on the
    container's loopback. No TLS listeners: their certificates are made per machine at start,
    which the image cannot do."""
    result = []
    for role, port in COMPOSE_PORTS.items():
        bind = HOST if role == "controller" else "0.0.0.0"
        result.append(_listener(role, getattr(names, role), port, bind, HOST))
    return result


@dataclass(frozen=True)
class TlsStores:
    """The broker's PEM key store (private key + certificate chain in one file) and trust store."""

    keystore: Path
    truststore: Path


def _by_role(listeners: Sequence[Listener], role: str) -> Listener:
    for listener in listeners:
        if listener.role == role:
            return listener
    raise ValueError(f"no {role} listener")


def _listener_settings(listeners: Sequence[Listener]) -> dict[str, str]:
    controller = _by_role(listeners, "controller")
    inter_broker = _by_role(listeners, "plaintext")
    return {
        "process.roles": "broker,controller",
        "node.id": "1",
        # Static quorum: the official image formats storage without --standalone, which a
        # dynamic quorum (controller.quorum.bootstrap.servers) would need; one form for both.
        "controller.quorum.voters": f"1@{controller.bind_host}:{controller.port}",
        "listeners": ",".join(f"{x.name}://{x.bind_host}:{x.port}" for x in listeners),
        # 127.0.0.1 rather than localhost, which may resolve to ::1 first and cost clients a
        # failed connect on every reconnect.
        "advertised.listeners": ",".join(f"{x.name}://{x.address}" for x in listeners if x is not controller),
        "listener.security.protocol.map": ",".join(f"{x.name}:{x.protocol}" for x in listeners),
        "controller.listener.names": controller.name,
        "inter.broker.listener.name": inter_broker.name,
    }


def _sasl_settings(listener: Listener) -> dict[str, str]:
    # PLAIN users come from the JAAS line; SCRAM credentials live in the cluster metadata
    # (written at format time with --add-scram, or by ConfigCommand in docker-compose.yml).
    prefix = f"listener.name.{listener.name.lower()}."
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    settings = {
        prefix + "sasl.enabled.mechanisms": ",".join(SASL_MECHANISMS),
        prefix + "plain.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required user_{SASL_USER}="{SASL_PASSWORD}";',
    }
    for mechanism in SCRAM_MECHANISMS:
        settings[f"{prefix}{mechanism.lower()}.sasl.jaas.config"] = scram
    return settings


def _tls_settings(listeners: Sequence[Listener], tls: TlsStores | None) -> dict[str, str]:
    tls_listeners = [x for x in listeners if x.uses_tls]
    if not tls_listeners:
        return {}
    if tls is None:
        raise ValueError(f"TLS listeners {[x.name for x in tls_listeners]} need key and trust stores")
    # Kafka reads PEM directly (KIP-651): no JKS/PKCS12 conversion, no store passwords.
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(tls.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(tls.truststore),
    }
    for listener in tls_listeners:
        if listener.client_auth:
            settings[f"listener.name.{listener.name.lower()}.ssl.client.auth"] = "required"
    return settings


# The same for the helper and docker-compose.yml: a single node tuned for fast tests.
TUNING = {
    # One broker: internal topics must not ask for 3 replicas (the defaults), or consumer
    # groups and transactions never get a coordinator.
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    # Fewer internal partitions (default 50 each): a much cheaper first group join and first
    # transaction, and faster log recovery after kill -9.
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    # Classic-protocol groups (aiokafka) otherwise wait 3 s before the first rebalance.
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "true",
    "num.partitions": "1",
    # After kill -9 the restarted node must wait until the old broker session has expired
    # (DUPLICATE_BROKER_REGISTRATION); the default 9 s session makes crash tests slow.
    "broker.heartbeat.interval.ms": "1000",
    "broker.session.timeout.ms": "4000",
    "num.recovery.threads.per.data.dir": "1",
}


def broker_settings(
    listeners: Sequence[Listener],
    *,
    log_dirs: str,
    tls: TlsStores | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """All ``server.properties`` settings of one combined broker+controller node.

    Parameters
    ----------
    listeners
        From :func:`helper_listeners` or :func:`compose_listeners`.
    log_dirs
        The data directory.
    tls
        The PEM stores; required when a listener uses TLS.
    overrides
        Extra settings that win over the defaults (not the ones in ``PROTECTED_KEYS``).

    Returns
    -------
    dict of str to str
        In a stable, readable order.
    """
    overrides = dict(overrides or {})
    protected = sorted(PROTECTED_KEYS & set(overrides))
    if protected:
        raise ValueError(f"these settings belong to the helper and cannot be overridden: {', '.join(protected)}")
    settings = _listener_settings(listeners)
    for listener in listeners:
        if listener.uses_sasl:
            settings.update(_sasl_settings(listener))
    settings.update(_tls_settings(listeners, tls))
    settings.update(
        {
            # ACLs, so tests can make the broker refuse a produce for good (a non-retriable
            # error). Everything without an ACL stays allowed, as before the authorizer.
            "authorizer.class.name": AUTHORIZER,
            "allow.everyone.if.no.acl.found": "true",
            "super.users": ";".join(SUPER_USERS),
            "log.dirs": log_dirs,
        }
    )
    settings.update(TUNING)
    settings.update(overrides)
    return settings
