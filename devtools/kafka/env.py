"""The environment variables of ``scripts/kafka-dev`` and the test fixture: one reading
of them, so the command line, the tests and the benchmarks find the same broker."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path

from .broker import Broker, RuntimeOptions
from .errors import KafkaDevError
from .properties import parse_overrides
from .settings import KAFKA_VERSION, BrokerPorts

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_PORT = 9092
# A second broker (tests that need other settings) lives this far above the first one.
SECOND_BROKER_OFFSET = 100

ENV_HELP = f"""\
environment (all optional):
  KAFKA_DEV_HOME                state dir (default: <repo>/.kafka-dev)
  KAFKA_DEV_PORT                PLAINTEXT port P on 127.0.0.1 (default 9092)
  KAFKA_DEV_CONTROLLER_PORT     KRaft controller listener (default P+1)
  KAFKA_DEV_SASL_PORT           SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256/512, user auditpipe,
                                password auditpipe-secret (default P+2)
  KAFKA_DEV_SSL_PORT            SSL, server authentication only (default P+3)
  KAFKA_DEV_SASL_SSL_PORT       SASL_SSL, the SASL mechanisms over TLS (default P+4)
  KAFKA_DEV_MTLS_PORT           SSL requiring a client certificate (default P+5)
  KAFKA_DEV_WRONG_HOST_PORT     SSL on 127.0.0.2, an address the broker certificate does
                                not name, for hostname-check tests (default P+6)
  KAFKA_DEV_SECOND_PORT         tests only: base port of a second broker (default P+100)
  KAFKA_DEV_VERSION             Kafka version from Maven Central (default {KAFKA_VERSION})
  KAFKA_DEV_CACHE               jar cache dir (default:
                                ${{XDG_CACHE_HOME:-$HOME/.cache}}/auditpipe/kafka-<version>)
  KAFKA_DEV_START_TIMEOUT_SECS  readiness timeout of `start` (default 120)
  KAFKA_DEV_STOP_TIMEOUT_SECS   SIGTERM grace period of `stop` (default 30)
  KAFKA_DEV_VERBOSE             1 = print each readiness step while `start` waits
  KAFKA_DEV_OVERRIDES           extra server.properties settings, whitespace-separated
                                key=value words (e.g. "auto.create.topics.enable=false");
                                they win over the defaults (listeners, log.dirs and the
                                quorum cannot be overridden)
  KAFKA_DEV_CDS                 0 = no class-data-sharing archive (faster starts otherwise)
  KAFKA_HEAP_OPTS               JVM heap flags (default "-Xms256m -Xmx768m")
  KAFKA_DEV_JVM_OPTS            extra JVM flags
  JAVA_HOME                     use $JAVA_HOME/bin/java instead of `java` on PATH
  MVN                           Maven command (default `mvn`)

TLS material (CA, broker, client and a "wrong CA") is generated with openssl into
<home>/tls at the first start; `status` prints the paths.
"""


def _int(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise KafkaDevError(f"{name} must be an integer, got {raw!r}") from None


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _int(environ, name)
    return default if value is None else float(value)


PORT_VARIABLES = {
    "controller": "KAFKA_DEV_CONTROLLER_PORT",
    "sasl_plaintext": "KAFKA_DEV_SASL_PORT",
    "ssl": "KAFKA_DEV_SSL_PORT",
    "sasl_ssl": "KAFKA_DEV_SASL_SSL_PORT",
    "mtls": "KAFKA_DEV_MTLS_PORT",
    "wrong_host": "KAFKA_DEV_WRONG_HOST_PORT",
}


def ports_from_env(environ: Mapping[str, str] = os.environ) -> BrokerPorts:
    """The first broker's ports: ``KAFKA_DEV_PORT`` and the per-listener variables."""
    base = _int(environ, "KAFKA_DEV_PORT") or DEFAULT_PORT
    explicit = {role: port for role, name in PORT_VARIABLES.items() if (port := _int(environ, name)) is not None}
    try:
        return BrokerPorts.from_base(base, **explicit)
    except ValueError as exc:
        raise KafkaDevError(f"{exc} (check KAFKA_DEV_PORT and the KAFKA_DEV_*_PORT variables)") from None


def second_ports_from_env(environ: Mapping[str, str] = os.environ) -> BrokerPorts:
    """A second broker's ports: ``KAFKA_DEV_SECOND_PORT`` (default: the first one's P+100)."""
    base = _int(environ, "KAFKA_DEV_SECOND_PORT") or ports_from_env(environ).plaintext + SECOND_BROKER_OFFSET
    return BrokerPorts.from_base(base)


def options_from_env(environ: Mapping[str, str] = os.environ) -> RuntimeOptions:
    """How to run the JVM, from the environment (see ``ENV_HELP``)."""
    cache = environ.get("KAFKA_DEV_CACHE", "").strip()
    java_home = environ.get("JAVA_HOME", "").strip()
    return RuntimeOptions(
        cache=Path(cache).resolve() if cache else None,
        java=str(Path(java_home) / "bin" / "java") if java_home else "java",
        mvn=tuple(shlex.split(environ.get("MVN", "mvn"))) or ("mvn",),
        heap_opts=tuple(shlex.split(environ.get("KAFKA_HEAP_OPTS", "-Xms256m -Xmx768m"))),
        jvm_opts=tuple(shlex.split(environ.get("KAFKA_DEV_JVM_OPTS", ""))),
        start_timeout_secs=_float(environ, "KAFKA_DEV_START_TIMEOUT_SECS", 120.0),
        stop_timeout_secs=_float(environ, "KAFKA_DEV_STOP_TIMEOUT_SECS", 30.0),
        cds=environ.get("KAFKA_DEV_CDS", "1").strip() not in ("", "0"),
        verbose=environ.get("KAFKA_DEV_VERBOSE", "").strip() not in ("", "0"),
    )


def version_from_env(environ: Mapping[str, str] = os.environ) -> str:
    """``KAFKA_DEV_VERSION``, default :data:`KAFKA_VERSION`."""
    return environ.get("KAFKA_DEV_VERSION", "").strip() or KAFKA_VERSION


def broker_from_env(environ: Mapping[str, str] = os.environ, log: Callable[[str], None] | None = None) -> Broker:
    """The broker ``scripts/kafka-dev`` manages with this environment.

    Parameters
    ----------
    environ
        The environment (see ``ENV_HELP``).
    log
        Receives progress lines.

    Returns
    -------
    Broker
        Not started.
    """
    home = environ.get("KAFKA_DEV_HOME", "").strip() or str(REPO_ROOT / ".kafka-dev")
    try:
        overrides = parse_overrides(environ.get("KAFKA_DEV_OVERRIDES", ""))
    except ValueError as exc:
        raise KafkaDevError(f"KAFKA_DEV_OVERRIDES: {exc}") from None
    try:
        return Broker(
            Path(home),
            ports_from_env(environ),
            overrides=overrides,
            version=version_from_env(environ),
            options=options_from_env(environ),
            log=log,
        )
    except ValueError as exc:
        raise KafkaDevError(str(exc)) from None
