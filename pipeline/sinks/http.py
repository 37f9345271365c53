"""An output that POSTs ``audit.k8s.io/v1`` EventLists over HTTP(S): Falco's
k8saudit webhook first, any EventList receiver alike.

Durable means a 2xx answer. Falco answers 200 before it parses and then drops
what it cannot use without telling anyone, so each event is first checked
against the receiver's rules (``eventlists.refusal``: size and
``stageTimestamp``) and refused ones come back as dead letters with the
reason. What passes is packed into bodies of at most ``max_batch_bytes``.

A body answered 5xx, 408 or 429, or lost to a connection error or timeout, is
sent again after a capped exponential backoff with jitter, for as long as it
takes: the runner holds the batch (and, through ``max_inflight_batches``, the
source) meanwhile, and ``health`` says the output is failing. Any other answer
(a 4xx, a redirect) will not change by retrying: the body's events become
dead letters (``refused``) naming the answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp

from ..config import HttpOutput, HttpTls
from ..errors import ReasonCode, Rejection, StartupError
from ..observers import HttpObserver
from ..sources.base import READY, Health
from .base import DeadLetter, Delivery
from .eventlists import ReceiverRules, event_list, refusal, split

if TYPE_CHECKING:
    from ..process import OutRecord

log = logging.getLogger("auditpipe")

JSON_HEADERS = {"Content-Type": "application/json"}
RETRIED_STATUSES = frozenset({408, 429})
ANSWER_EXCERPT_BYTES = 512


def client_tls_context(tls: HttpTls | None) -> ssl.SSLContext:
    """The TLS context for an https URL (the system's CAs unless ``tls.ca_file``).

    Raises
    ------
    StartupError
        A file that cannot be loaded, named.
    """
    try:
        context = ssl.create_default_context(cafile=tls.ca_file if tls else None)
        if tls is not None:
            context.check_hostname = tls.check_hostname
            if tls.cert_file:
                context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        files = ", ".join(f for f in (tls.ca_file, tls.cert_file, tls.key_file) if f) if tls else "system CAs"
        raise StartupError(f"HTTP output TLS: cannot load {files}: {exc}", retriable=False) from None
    return context


class _Body:
    """One request's worth of events."""

    __slots__ = ("data", "records")

    def __init__(self, records: list[OutRecord]) -> None:
        self.records = records
        self.data = event_list([r.value for r in records])


class HttpSink:
    """Events to one URL as EventList POSTs."""

    def __init__(self, config: HttpOutput, observer: HttpObserver | None = None) -> None:
        self.name = config.name
        self.config = config
        self.rules = ReceiverRules(config.max_batch_bytes, config.max_event_bytes, config.require_stage_timestamp)
        self._observer = observer
        self._session: aiohttp.ClientSession | None = None
        self._failing: str | None = None
        self._tasks: set[asyncio.Task[list[DeadLetter]]] = set()

    async def start(self) -> None:
        c = self.config
        context: ssl.SSLContext | bool = client_tls_context(c.tls) if c.url.startswith("https://") else True
        connector = aiohttp.TCPConnector(limit=c.max_concurrent_requests, ssl=context)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=dict(c.headers),
            timeout=aiohttp.ClientTimeout(total=c.timeout_secs),
            raise_for_status=False,
        )

    async def send(self, records: Sequence[OutRecord], origins: Sequence[str]) -> Delivery:
        refused: list[DeadLetter] = []
        kept: list[OutRecord] = []
        for r in records:
            problem = refusal(r.value, self.rules)
            if problem is None:
                kept.append(r)
            else:
                rejection = Rejection(problem.code, problem.message, problem.path, r.value, origins[r.index])
                refused.append(DeadLetter(rejection, r.key))
        groups = split([len(r.value) for r in kept], self.rules.max_batch_bytes)
        bodies = [_Body(kept[g.start : g.stop]) for g in groups]
        task = asyncio.ensure_future(self._deliver(bodies, refused, list(origins)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _deliver(self, bodies: list[_Body], refused: list[DeadLetter], origins: list[str]) -> list[DeadLetter]:
        answers = await asyncio.gather(*(self._post(body, origins) for body in bodies))
        for letters in answers:
            refused += letters
        return refused

    async def _post(self, body: _Body, origins: list[str]) -> list[DeadLetter]:
        delay = self.config.retry_backoff_initial_secs
        while True:
            status, detail = await self._attempt(body.data)
            if status is not None and 200 <= status < 300:
                self._failing = None
                return []
            if status is not None and not (status >= 500 or status in RETRIED_STATUSES):
                log.warning(
                    "An HTTP output refused a request; its events go to the dead-letter output.",
                    extra={"output": self.name, "status": status, "events": len(body.records), "answer": detail},
                )
                message = f"{self.config.url} answered {status}: {detail}"
                return [
                    DeadLetter(Rejection(ReasonCode.REFUSED, message, "$", r.value, origins[r.index]), r.key)
                    for r in body.records
                ]
            problem = f"HTTP {status}: {detail}" if status is not None else detail
            self._failing = f"output {self.name}: {problem}; retrying"
            log.warning(
                "An HTTP output request failed; retrying.",
                extra={"output": self.name, "error": problem, "retry_in_secs": round(delay, 2)},
            )
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # jitter, so retries of many bodies spread out
            delay = min(delay * 2, self.config.retry_backoff_max_secs)

    async def _attempt(self, data: bytes) -> tuple[int | None, str]:
        """One POST: (status, an excerpt of the answer), or (None, the error)."""
        assert self._session is not None, "start() first"
        try:
            async with self._session.post(
                self.config.url, data=data, headers=JSON_HEADERS, allow_redirects=False
            ) as answer:
                excerpt = await answer.content.read(ANSWER_EXCERPT_BYTES)
                status = answer.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._observe("error")
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        self._observe(f"{status // 100}xx")
        return status, excerpt.decode("utf-8", "replace").strip()

    def _observe(self, outcome: str) -> None:
        if self._observer is not None:
            self._observer.http_request(self.name, outcome)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def health(self) -> Health:
        return READY if self._failing is None else Health(False, self._failing)
