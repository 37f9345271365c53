"""Broker operations through real clients: aiokafka's admin client (readiness, topics)
and the broker's own ACL tool (aiokafka 0.14 has no ACL API)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from .errors import KafkaDevError
from .jvm import Jvm

T = TypeVar("T")

READINESS_GROUP = "devtools-readiness"
ACL_TOOL = "org.apache.kafka.tools.AclCommand"


def run_sync(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from synchronous code, also inside a running loop
    (then on a worker thread with its own loop, since that loop cannot be re-entered).

    Parameters
    ----------
    make
        Makes the coroutine (called on the thread that runs it).

    Returns
    -------
    T
        Its result.
    """

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


async def serving(bootstrap: str, timeout_secs: float = 10.0) -> str | None:
    """One readiness check. None when the broker serves, else a short reason.

    Metadata listing a broker means it registered and is unfenced. FindCoordinator makes
    it create ``__consumer_offsets`` now (it is created lazily) and answers only once that
    topic has a leader, so the first consumer group of a fresh broker does not ride out
    COORDINATOR_NOT_AVAILABLE retries.

    Parameters
    ----------
    bootstrap
        The PLAINTEXT address.
    timeout_secs
        Per request.

    Returns
    -------
    str or None
        Why it is not ready yet.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_secs * 1000), client_id="devtools-readiness"
    )
    try:
        await admin.start()
        cluster: dict[str, Any] = await admin.describe_cluster()
        if not cluster.get("brokers"):
            return "metadata lists no brokers yet"
        await admin.find_coordinator(READINESS_GROUP)
        return None
    except Exception as exc:  # any client error just means "not yet"; the caller retries until its deadline
        return f"not serving yet ({type(exc).__name__}: {exc})"
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 1, configs: dict[str, str] | None = None
) -> None:
    """Create topics with replication factor 1.

    Parameters
    ----------
    bootstrap
        A PLAINTEXT address.
    names
        Topic names.
    partitions
        Partitions per topic.
    configs
        Topic configs, e.g. ``{"max.message.bytes": "4000"}``.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1, topic_configs=configs or {}) for n in names])
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 1, configs: dict[str, str] | None = None
) -> list[str]:
    """Create the topics of ``names`` that do not exist yet; returns those created."""
    missing = sorted(set(names) - set(await list_topics(bootstrap)))
    if missing:
        await create_topics(bootstrap, missing, partitions, configs)
    return missing


async def list_topics(bootstrap: str) -> list[str]:
    """The topic names the broker has (internal ones included)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()


class AclError(KafkaDevError):
    """The ACL tool failed."""


def deny_write(jvm: Jvm, bootstrap: str, topic: str, principal: str) -> None:
    """Deny ``principal`` WRITE on ``topic``; every principal keeps all other rights on it.

    An ACL on a topic ends ``allow.everyone.if.no.acl.found`` for that topic, so everyone
    is first allowed everything on it explicitly; a DENY then wins over that ALLOW for the
    one principal and operation.

    Parameters
    ----------
    jvm
        Runs the broker's AclCommand.
    bootstrap
        A PLAINTEXT address (a super user there).
    topic
        The literal topic name.
    principal
        E.g. ``User:auditpipe``.
    """
    for grant in (
        ["--allow-principal", "User:*", "--operation", "All"],
        ["--deny-principal", principal, "--operation", "Write"],
    ):
        result = jvm.run_tool(
            ACL_TOOL,
            ["--bootstrap-server", bootstrap, "--add", *grant, "--topic", topic, "--resource-pattern-type", "literal"],
        )
        if result.returncode != 0:
            raise AclError(
                f"{ACL_TOOL} {' '.join(grant)} on {topic} failed (exit {result.returncode}):\n{result.stdout[-3000:]}"
            )
