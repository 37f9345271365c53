"""A receiver that applies exactly the rules of Falco's k8saudit webhook
(plugins/k8saudit/pkg/k8saudit/source.go, as written down in the project's
notes on Falco), and keeps a record of what it accepted and what it dropped.

Per request: POST only (else 405); ``Content-Type`` must contain
``application/json`` (else 400 "wrong Content Type"); a body over
``webhookMaxBatchSize`` is 400 "bad request". Anything else is answered 200,
and the answer never depends on the body: Falco answers before it parses.

Per payload, after the 200 (Falco only logs these): not JSON → the payload is
dropped; a JSON array → each element by the same rules, and one element that
is not recognised drops the whole payload (Falco returns the error and pushes
nothing); an object whose ``kind`` is ``EventList`` with a non-empty ``items``
array → each item is an event; ``kind`` ``Event`` → one event; anything else
→ "data not recognized as a k8s audit event".

Per event: ``stageTimestamp`` must be a string Go's ``time.RFC3339Nano`` parses
(checked with ``pipeline.sinks.eventlists.rfc3339_problem``, which
tests/test_eventlists.py holds to Go's own ``time.Parse``), and the event
re-marshalled the way Falco's fastjson does it (whitespace outside strings
removed, strings verbatim) must be at most ``maxEventSize`` bytes.

The test can script answers (``script``: statuses returned before the rules,
one per request, e.g. an outage of 503s) and delay each answer (a slow
receiver). The server runs in a thread of its own, so tests that drive
subprocesses can use it as well as asyncio tests.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
from aiohttp import web

from pipeline.sinks.eventlists import rfc3339_problem

WEBHOOK_MAX_BATCH_SIZE = 12 * 1024 * 1024
MAX_EVENT_SIZE = 256 * 1024

_decode_any = msgspec.json.Decoder(dict[str, msgspec.Raw] | list[msgspec.Raw]).decode
_decode_items = msgspec.json.Decoder(list[msgspec.Raw]).decode
# A JSON string (with its escapes) or a run of JSON whitespace.
_STRING_OR_SPACE = re.compile(rb'("(?:[^"\\]|\\.)*")|[ \t\n\r]+', re.DOTALL)


def remarshalled(raw: bytes) -> bytes:
    """An event as fastjson's MarshalTo writes it back: strings verbatim, no whitespace between tokens."""
    return _STRING_OR_SPACE.sub(lambda m: m.group(1) or b"", raw)


class _NotRecognized(Exception):
    pass


@dataclass
class Outcome:
    """What Falco would make of one payload: the events it keeps and what it drops, with reasons."""

    events: list[bytes] = field(default_factory=list)
    dropped: list[tuple[str, bytes]] = field(default_factory=list)


def _string(raw: msgspec.Raw | None) -> str | None:
    if raw is None:
        return None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None
    return value if isinstance(value, str) else None


def _event(raw: bytes, max_event_size: int, outcome: Outcome) -> None:
    fields = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
    if "stageTimestamp" not in fields:
        outcome.dropped.append(("can't read stageTimestamp", raw))
        return
    stamp = _string(fields["stageTimestamp"]) or ""  # GetStringBytes: nil for a non-string
    problem = rfc3339_problem(stamp)
    if problem is not None:
        outcome.dropped.append((f"parsing time {stamp!r}: {problem}", raw))
        return
    data = remarshalled(raw)
    if len(data) > max_event_size:
        outcome.dropped.append((f"event larger than maxEventSize: size={len(data)}", raw))
        return
    outcome.events.append(data)


def _value(raw: bytes, max_event_size: int, outcome: Outcome) -> None:
    try:
        value = _decode_any(raw)
    except msgspec.ValidationError:  # JSON, but a string, number, boolean or null
        raise _NotRecognized from None
    if isinstance(value, list):
        for element in value:
            _value(bytes(element), max_event_size, outcome)
        return
    kind = _string(value.get("kind"))
    if kind == "EventList" and "items" in value:
        try:
            items = _decode_items(value["items"])
        except msgspec.ValidationError:
            items = []
        if items:  # fastjson's GetArray is nil for an empty array or a non-array
            for item in items:
                if isinstance(msgspec.json.decode(item), dict):
                    _event(bytes(item), max_event_size, outcome)
                else:  # Get on a non-object finds no stageTimestamp
                    outcome.dropped.append(("can't read stageTimestamp", bytes(item)))
            return
    if kind == "Event":
        _event(raw, max_event_size, outcome)
        return
    raise _NotRecognized


def falco_parse(payload: bytes, max_event_size: int = MAX_EVENT_SIZE) -> Outcome:
    """Falco's parse of one accepted payload: the events it keeps, and what it drops."""
    outcome = Outcome()
    try:
        _value(payload, max_event_size, outcome)
    except msgspec.DecodeError as exc:
        return Outcome(dropped=[(f"cannot parse JSON: {exc}", payload)])
    except _NotRecognized:
        return Outcome(dropped=[("data not recognized as a k8s audit event", payload)])
    return outcome


@dataclass
class Request:
    method: str
    content_type: str
    body_bytes: int
    status: int
    headers: dict[str, str]


async def _read_up_to(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await request.content.readany()):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class FalcoReceiver:
    """An aiohttp server with Falco's rules, in a background thread (a context manager)."""

    def __init__(
        self,
        *,
        path: str = "/k8s-audit",
        max_batch_size: int = WEBHOOK_MAX_BATCH_SIZE,
        max_event_size: int = MAX_EVENT_SIZE,
        script: list[int] | None = None,
        delay_secs: float = 0.0,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.path = path
        self.max_batch_size = max_batch_size
        self.max_event_size = max_event_size
        self.script = list(script or [])
        self.delay_secs = delay_secs
        self.ssl_context = ssl_context
        self.accepted: list[bytes] = []
        self.dropped: list[tuple[str, bytes]] = []
        self.requests: list[Request] = []
        self.port = port
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self.path}"

    def accepted_events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [msgspec.json.decode(e) for e in self.accepted]

    def statuses(self) -> list[int]:
        with self._lock:
            return [r.status for r in self.requests]

    async def _handle(self, request: web.Request) -> web.Response:
        if self.delay_secs:
            await asyncio.sleep(self.delay_secs)
        content_type = request.headers.get("Content-Type", "")
        headers = dict(request.headers)
        body = await _read_up_to(request, self.max_batch_size + 1)
        status, text = self._answer(request.method, content_type, body)
        with self._lock:
            self.requests.append(Request(request.method, content_type, len(body), status, headers))
            if status == 200:
                outcome = falco_parse(body, self.max_event_size)
                self.accepted += outcome.events
                self.dropped += outcome.dropped
        return web.Response(status=status, text=text)

    def _answer(self, method: str, content_type: str, body: bytes) -> tuple[int, str]:
        with self._lock:
            if self.script:
                return self.script.pop(0), "scripted answer\n"
        if method != "POST":
            return 405, f"{method} method not allowed\n"
        if "application/json" not in content_type:
            return 400, "wrong Content Type\n"
        if len(body) > self.max_batch_size:
            return 400, "bad request: http: request body too large\n"
        return 200, ""

    def __enter__(self) -> FalcoReceiver:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="falco-receiver", daemon=True)
        self._thread.start()
        if not ready.wait(30) or not self.port:
            raise RuntimeError("the Falco receiver did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(30)

    def _serve(self, ready: threading.Event) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            app = web.Application(client_max_size=self.max_batch_size + 1)
            app.router.add_route("*", self.path, self._handle)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
            await site.start()
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            await self._stop.wait()
            await runner.cleanup()

        asyncio.run(main())


def audit_keys(events: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(auditID, stage) of each event: what identifies one event of one request."""
    for e in events:
        yield e["auditID"], e["stage"]
