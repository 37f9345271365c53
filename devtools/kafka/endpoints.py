"""Where a broker's listeners are and what a client needs to use them, for a broker of
this helper or for an external one given by environment variables.

External broker (all but the first optional; a test that needs a missing one skips):

- ``KAFKA_BOOTSTRAP_SERVERS``: PLAINTEXT (selects the external broker);
- ``KAFKA_SASL_BOOTSTRAP_SERVERS``: SASL_PLAINTEXT with user auditpipe / auditpipe-secret;
- ``KAFKA_SSL_BOOTSTRAP_SERVERS``, ``KAFKA_SASL_SSL_BOOTSTRAP_SERVERS``,
  ``KAFKA_MTLS_BOOTSTRAP_SERVERS``: SSL, SASL_SSL and SSL requiring a client certificate;
- ``KAFKA_TLS_CA_FILE``, ``KAFKA_TLS_CLIENT_CERT``, ``KAFKA_TLS_CLIENT_KEY``: the CA that
  signed the broker certificate, and a client certificate and key it accepts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .broker import Broker
from .settings import SASL_PASSWORD, SASL_USER


@dataclass(frozen=True)
class Endpoints:
    """A broker's addresses (None where it has no such listener) and client material."""

    bootstrap: str
    sasl: str | None = None
    ssl: str | None = None
    sasl_ssl: str | None = None
    mtls: str | None = None
    wrong_host: str | None = None  # TLS at an address the broker certificate does not name
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    sasl_user: str = SASL_USER
    sasl_password: str = SASL_PASSWORD
    broker: Broker | None = None  # the helper's broker; None for an external one

    @property
    def owned(self) -> bool:
        """True if the helper runs this broker (so a test may restart it or add ACLs)."""
        return self.broker is not None

    @classmethod
    def of(cls, broker: Broker) -> Endpoints:
        """Every listener of a helper broker, with its generated TLS material."""
        tls = broker.tls
        return cls(
            bootstrap=broker.bootstrap,
            sasl=broker.sasl_bootstrap,
            ssl=broker.ssl_bootstrap,
            sasl_ssl=broker.sasl_ssl_bootstrap,
            mtls=broker.mtls_bootstrap,
            wrong_host=broker.wrong_host_bootstrap,
            ca_file=tls.ca_file,
            client_cert=tls.client_cert,
            client_key=tls.client_key,
            broker=broker,
        )

    @classmethod
    def external(cls, environ: Mapping[str, str] = os.environ) -> Endpoints:
        """An external broker from the variables in this module's docstring."""

        def get(name: str) -> str | None:
            return environ.get(name, "").strip() or None

        def path(name: str) -> Path | None:
            value = get(name)
            return Path(value) if value else None

        return cls(
            bootstrap=environ["KAFKA_BOOTSTRAP_SERVERS"],
            sasl=get("KAFKA_SASL_BOOTSTRAP_SERVERS"),
            ssl=get("KAFKA_SSL_BOOTSTRAP_SERVERS"),
            sasl_ssl=get("KAFKA_SASL_SSL_BOOTSTRAP_SERVERS"),
            mtls=get("KAFKA_MTLS_BOOTSTRAP_SERVERS"),
            ca_file=path("KAFKA_TLS_CA_FILE"),
            client_cert=path("KAFKA_TLS_CLIENT_CERT"),
            client_key=path("KAFKA_TLS_CLIENT_KEY"),
        )
