"""What every Kafka client of the pipeline shares: connection options from the
config, and a start-up that retries what is worth retrying until a deadline
and fails at once, with a clear message, on what is not (a wrong password)."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from ..config import Kafka, parse_bootstrap
from ..errors import StartupError
from .outage import install_reconnect_backoff

log = logging.getLogger("auditpipe")
T = TypeVar("T")

_AUTH_ERRORS = (SaslAuthenticationFailed, AuthenticationFailedError, UnsupportedSaslMechanismError)


def ssl_context(k: Kafka) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    tls = k.tls
    ctx: ssl.SSLContext = create_ssl_context(
        cafile=tls.ca_file if tls else None,
        certfile=tls.cert_file if tls else None,
        keyfile=tls.key_file if tls else None,
    )
    if tls is not None:
        ctx.check_hostname = tls.check_hostname
    return ctx


def client_options(k: Kafka) -> dict[str, Any]:
    """aiokafka connection options (shared by consumers, producers and admin clients)."""
    opts: dict[str, Any] = {
        "bootstrap_servers": k.bootstrap_servers,
        "client_id": k.client_id,
        "security_protocol": k.security_protocol,
        "request_timeout_ms": k.request_timeout_ms,
        "retry_backoff_ms": k.retry_backoff_ms,
    }
    if k.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = ssl_context(k)
    if k.sasl is not None:  # the config check guarantees SASL_* protocols have one
        opts.update(
            sasl_mechanism=k.sasl.mechanism, sasl_plain_username=k.sasl.username, sasl_plain_password=k.sasl.password
        )
    return opts


def describe_failure(k: Kafka, exc: BaseException) -> str:
    """One sentence saying what went wrong, without secrets."""
    if isinstance(exc, _AUTH_ERRORS) and k.sasl is not None:
        return (
            f"Kafka authentication failed for user {k.sasl.username!r} with mechanism {k.sasl.mechanism} "
            f"at {k.bootstrap_servers} ({type(exc).__name__})"
        )
    if isinstance(exc, ssl.SSLError):
        detail = getattr(exc, "verify_message", None) or exc.reason or str(exc)
        return f"TLS handshake with Kafka at {k.bootstrap_servers} failed: {detail}"
    return f"{type(exc).__name__}: {exc}"


async def probe(k: Kafka) -> None:
    """Open one connection to a bootstrap server, authenticating as configured.

    aiokafka's clients fold every bootstrap failure into "Unable to
    bootstrap", so a wrong password would look like a broker that is down. A
    single connection of our own raises the real cause: SaslAuthenticationFailed,
    an SSL error, or a connection error worth retrying.
    """
    opts = client_options(k)
    last: BaseException | None = None
    for host, port in parse_bootstrap(k.bootstrap_servers):
        try:
            conn = await create_conn(
                host,
                port,
                client_id=k.client_id,
                request_timeout_ms=15_000,
                ssl_context=opts.get("ssl_context"),
                security_protocol=k.security_protocol,
                sasl_mechanism=opts.get("sasl_mechanism", "PLAIN"),
                sasl_plain_username=opts.get("sasl_plain_username"),
                sasl_plain_password=opts.get("sasl_plain_password"),
            )
        except (*_AUTH_ERRORS, ssl.SSLError):
            raise
        except (TimeoutError, OSError, KafkaError) as exc:
            last = exc
            continue
        conn.close()
        return
    assert last is not None
    raise last


async def start_with_deadline(
    k: Kafka, what: str, start: Callable[[], Awaitable[T]], cleanup: Callable[[], Awaitable[None]]
) -> T:
    """Run ``start`` until it succeeds, retrying Kafka errors with backoff
    until ``startup_deadline_secs``.

    Raises
    ------
    StartupError
        ``retriable=False`` at once for authentication and TLS failures;
        ``retriable=True`` once the deadline passed.
    """
    install_reconnect_backoff(k.reconnect_backoff_ms / 1000, k.reconnect_backoff_max_ms / 1000)
    deadline = time.monotonic() + k.startup_deadline_secs
    delay = 0.5
    while True:
        try:
            await probe(k)
            return await start()
        except (*_AUTH_ERRORS, ssl.SSLError) as exc:
            await cleanup()
            raise StartupError(describe_failure(k, exc), retriable=False) from None
        except (KafkaError, OSError) as exc:
            await cleanup()
            if time.monotonic() + delay > deadline:
                raise StartupError(
                    f"cannot reach Kafka at {k.bootstrap_servers} for the {what} within "
                    f"{k.startup_deadline_secs:g} s: {describe_failure(k, exc)}",
                    retriable=True,
                ) from None
            log.warning(
                "Kafka not reachable, retrying.",
                extra={
                    "client": what,
                    "bootstrap": k.bootstrap_servers,
                    "error": type(exc).__name__,
                    "retry_in_secs": round(delay, 1),
                },
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)
