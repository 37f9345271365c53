"""kube-apiserver's webhook backend as a source (``--audit-webhook-config-file``).

Each POST body (an ``audit.k8s.io/v1`` or ``v1beta1`` EventList, or a single
Event) becomes one record of its own batch, whose position is the request
itself. The request is answered only when the runner settles that position:

* acknowledged (every event durable in its sinks, dead letters included):
  200, or 400 when the body held nothing but records that could not be read
  (not JSON, not an event): those are in the dead-letter output by then;
* failed (the runner is stopping on a delivery error), or not durable within
  ``ack_timeout_secs``: 503, and the apiserver sends the batch again.

The apiserver retries every failed request (5 attempts, backoff from
``--audit-webhook-initial-backoff``), so answering 200 only once the events are
durable gives at-least-once delivery: duplicates after a crash, never loss.

Requests are refused before anything is buffered: 401 without the bearer
token, 503 with ``Retry-After`` when ``max_inflight_requests`` are already on
their way (the bound on memory), 413 for a body over ``max_body_bytes`` (read
in chunks, never more than the limit). The source is unordered: a request
acknowledges only itself.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ..config import WebhookSource as WebhookSourceConfig
from ..config import WebhookTls
from ..errors import StartupError
from ..observers import WebhookObserver
from .base import READY, Drain, Health, SourceBatch

if TYPE_CHECKING:
    from ..process import Batch

log = logging.getLogger("auditpipe")


def server_tls_context(tls: WebhookTls) -> ssl.SSLContext:
    """The listener's TLS; with ``client_ca_file``, client certificates are required.

    Raises
    ------
    StartupError
        A file that cannot be loaded, named.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(
            f"webhook TLS: cannot load {tls.cert_file} with key {tls.key_file}: {exc}", retriable=False
        ) from None
    if tls.client_ca_file:
        try:
            context.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"webhook TLS: cannot load {tls.client_ca_file}: {exc}", retriable=False) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


async def read_bounded(request: web.BaseRequest, limit: int) -> tuple[bytes | None, int]:
    """The body, or None once it is known to exceed ``limit`` bytes; and the bytes seen.

    Reads chunk by chunk, so no more than ``limit`` bytes are ever held.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        return None, declared
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            return None, size
        chunks.append(chunk)
    return b"".join(chunks), size


class _Request:
    """A request on its way through the pipeline: the position the runner settles."""

    __slots__ = ("answer", "events", "refusal")

    def __init__(self) -> None:
        self.answer: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()
        self.events = 0
        self.refusal: str | None = None

    def processed(self, batch: Batch) -> None:
        # Called before delivery: a body that yielded no event but dead letters
        # is answered 400 once those dead letters are durable.
        self.events = batch.stats.events_in
        if not batch.stats.events_in and batch.dead_letters:
            self.refusal = batch.dead_letters[0][1].describe()


class WebhookSource:
    """An HTTPS listener for kube-apiserver's audit webhook."""

    ordered = False

    def __init__(
        self, config: WebhookSourceConfig, max_body_bytes: int, observer: WebhookObserver | None = None
    ) -> None:
        self.name = f"webhook:{config.port}"
        self.config = config
        self.max_body_bytes = max_body_bytes
        self._observer = observer
        self._queue: asyncio.Queue[SourceBatch | None] = asyncio.Queue()
        self._unsettled: set[_Request] = set()
        self._requests = 0
        self._server: web.AppRunner | None = None
        self._stopping = False

    async def start(self, drain: Drain) -> None:
        c = self.config
        context = server_tls_context(c.tls) if c.tls is not None else None
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(c.path, self._handle)
        server = web.AppRunner(app, access_log=None, handle_signals=False)
        await server.setup()
        try:
            await web.TCPSite(server, c.host, c.port, ssl_context=context).start()
        except OSError as exc:
            await server.cleanup()
            raise StartupError(
                f"webhook: cannot listen on {c.host}:{c.port}: {exc.strerror or exc}", retriable=False
            ) from None
        self._server = server
        url = f"{'https' if context is not None else 'http'}://{c.host}:{c.port}{c.path}"
        log.info("Webhook listening.", extra={"url": url, "client_certificates": bool(c.tls and c.tls.client_ca_file)})

    # ---- the HTTP side ------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        response, size = await self._respond(request)
        if self._observer is not None:
            self._observer.webhook_answered(response.status, size, time.perf_counter() - started)
        return response

    async def _respond(self, request: web.Request) -> tuple[web.Response, int]:
        token = self.config.bearer_token
        if token is not None and not hmac.compare_digest(
            request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()
        ):
            log.warning("Webhook request without the right bearer token.", extra={"remote": request.remote})
            headers = {"WWW-Authenticate": 'Bearer realm="auditpipe"'}
            return web.Response(status=401, text="a valid bearer token is required\n", headers=headers), 0
        if self._stopping:
            return self._busy("stopping"), 0
        if len(self._unsettled) >= self.config.max_inflight_requests:
            return self._busy(f"{len(self._unsettled)} requests are already being delivered"), 0
        pending = _Request()
        self._track(pending)
        handed_over = False
        try:
            try:
                body, size = await read_bounded(request, self.max_body_bytes)
            except (ConnectionError, HttpProcessingError) as exc:
                # The client went away or broke the framing mid-body: nothing was taken.
                log.info("Webhook request body could not be read.", extra={"remote": request.remote, "error": str(exc)})
                return web.Response(status=400, text="the body could not be read\n"), 0
            if body is None:
                log.warning(
                    "Webhook body over max_body_bytes refused (413); the apiserver drops it after its retries.",
                    extra={"remote": request.remote, "bytes": size, "max_body_bytes": self.max_body_bytes},
                )
                response = web.Response(status=413, text=f"body over {self.max_body_bytes} bytes\n")
                response.force_close()  # do not read the rest of it
                return response, size
            self._requests += 1
            origin = f"webhook:{request.remote}:{self._requests}"
            self._queue.put_nowait(SourceBatch([body], [origin], position=pending, on_processed=pending.processed))
            handed_over = True
        finally:
            if not handed_over:
                self._settle(pending, 0, "not accepted")
        try:
            code, text = await asyncio.wait_for(asyncio.shield(pending.answer), self.config.ack_timeout_secs)
        except TimeoutError:
            return self._busy(f"not durable within {self.config.ack_timeout_secs:g} s"), size
        if code == 503:
            return self._busy(text), size
        return web.Response(status=code, text=text + "\n"), size

    def _busy(self, why: str) -> web.Response:
        headers = {"Retry-After": str(self.config.retry_after_secs)}
        return web.Response(status=503, text=f"try again: {why}\n", headers=headers)

    def _track(self, pending: _Request) -> None:
        self._unsettled.add(pending)
        if self._observer is not None:
            self._observer.webhook_inflight(len(self._unsettled))

    def _settle(self, pending: _Request, code: int, text: str) -> None:
        """Answer a request (once) and free its slot."""
        if pending in self._unsettled:
            self._unsettled.discard(pending)
            if self._observer is not None:
                self._observer.webhook_inflight(len(self._unsettled))
        if not pending.answer.done():
            pending.answer.set_result((code, text))

    # ---- the source contract ---------------------------------------------------

    async def batches(self) -> AsyncIterator[SourceBatch]:
        while (batch := await self._queue.get()) is not None:
            yield batch

    async def acknowledge(self, positions: list[object]) -> None:
        for position in positions:
            assert isinstance(position, _Request)
            if position.refusal is not None:
                self._settle(position, 400, f"nothing in the body could be read: {position.refusal}")
            else:
                self._settle(position, 200, f"{position.events} events durable")

    async def fail(self, position: object, reason: str) -> None:
        assert isinstance(position, _Request)
        self._settle(position, 503, f"not delivered: {reason}")

    def request_stop(self) -> None:
        """Refuse new requests (503: the apiserver retries, at another replica if there is one);
        requests not yet handed to the runner are answered 503 at once."""
        self._stopping = True
        while not self._queue.empty():
            batch = self._queue.get_nowait()
            if batch is not None and isinstance(batch.position, _Request):
                self._settle(batch.position, 503, "stopping")
        self._queue.put_nowait(None)

    async def close(self) -> None:
        self._stopping = True
        for pending in list(self._unsettled):
            self._settle(pending, 503, "stopping")
        if self._server is not None:
            await self._server.cleanup()
            self._server = None

    def health(self) -> Health:
        if self._server is None:
            return Health(False, "webhook not listening")
        if self._stopping:
            return Health(False, "webhook stopping")
        return READY
