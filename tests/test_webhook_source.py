"""The webhook source in the runner, over real HTTP(S), with sinks whose
durability the test controls: a request is answered 200 only once its events
are durable, 400 only once its dead letters are; 401, 413 and 503 come before
anything is buffered; a request that is not durable in time, or whose
delivery fails, is answered 503."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any

import aiohttp
import msgspec
import pytest

from devtools.net import free_port
from pipeline.config import WebhookSource as WebhookSourceConfig
from pipeline.runner import Runner
from pipeline.sinks.base import DeadLetter
from pipeline.sources.base import READY, Health
from pipeline.sources.webhook import WebhookSource

from .helpers import event, line, processor
from .test_runner import FakeSink

pytestmark = pytest.mark.timeout(60)


def event_list(*ids: str, version: str = "audit.k8s.io/v1") -> bytes:
    items = []
    for i in ids:
        e = event(auditID=i)
        del e["kind"], e["apiVersion"]  # as kube-apiserver sends them
        items.append(e)
    return line({"kind": "EventList", "apiVersion": version, "metadata": {}, "items": items})


class HeldDeadLetters:
    """Dead letters durable when the test says so (``release``)."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def start(self) -> None:
        pass

    async def send(self, letters: Sequence[DeadLetter]) -> Awaitable[None]:
        self.letters.extend(letters)
        return asyncio.ensure_future(self.gate.wait())

    async def close(self) -> None:
        pass

    def health(self) -> Health:
        return READY


class Observed:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.inflight: list[int] = []

    def webhook_answered(self, code: int, body_bytes: int, seconds: float) -> None:
        self.codes.append(code)

    def webhook_inflight(self, requests: int) -> None:
        self.inflight.append(requests)


class Webhook:
    """A webhook source in a runner, a fake sink behind it, and an HTTP client."""

    def __init__(self, *, max_body_bytes: int = 1 << 20, client_ssl: Any = None, **options: Any) -> None:
        self.port = free_port()
        self.config = msgspec.convert({"host": "127.0.0.1", "port": self.port, **options}, WebhookSourceConfig)
        self.observed = Observed()
        self.source = WebhookSource(self.config, max_body_bytes, self.observed)
        self.sink = FakeSink()
        self.dead = HeldDeadLetters()
        self.runner = Runner(
            processor([{"level": "RequestResponse"}]),
            [self.source],
            {"default": self.sink},
            self.dead,
            max_inflight_batches=8,
            shutdown_timeout_secs=2,
        )
        scheme = "https" if self.config.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}{self.config.path}"
        self.client_ssl = client_ssl
        self.run: asyncio.Future[None] | None = None

    async def __aenter__(self) -> Webhook:
        await self.runner.start()
        self.run = asyncio.ensure_future(self.runner.run())
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self.client_ssl or True))
        return self

    async def __aexit__(self, *_: object) -> None:
        self.runner.request_stop()
        for pending in self.sink.pending:  # let what is in flight settle
            if not pending.done():
                pending.set_result([])
        self.dead.gate.set()
        assert self.run is not None
        await asyncio.gather(self.run, return_exceptions=True)
        await self.runner.close()
        await self.session.close()

    async def post(self, body: Any, **headers: str) -> tuple[int, str, dict[str, str]]:
        async with self.session.post(self.url, data=body, headers=headers) as answer:
            return answer.status, await answer.text(), dict(answer.headers)

    def posting(self, body: Any, **headers: str) -> asyncio.Task[tuple[int, str, dict[str, str]]]:
        return asyncio.ensure_future(self.post(body, **headers))

    async def sent(self, count: int) -> None:
        """Wait until the sink has been handed ``count`` batches."""
        while len(self.sink.pending) < count:
            await asyncio.sleep(0.01)


async def still_waiting(task: asyncio.Task[Any]) -> bool:
    await asyncio.sleep(0.1)  # give the answer every chance to come early
    return not task.done()


def test_answered_200_only_once_the_events_are_durable() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            request = hook.posting(event_list("a", "b", "c"), **{"Content-Type": "application/json"})
            await hook.sent(1)
            assert await still_waiting(request)
            hook.sink.settle(0)
            status, text, _ = await request
            assert (status, text) == (200, "3 events durable\n")
            assert [msgspec.json.decode(v)["auditID"] for v in hook.sink.received[0]] == ["a", "b", "c"]
            assert hook.observed.codes == [200]

    asyncio.run(main())


@pytest.mark.parametrize(
    "body",
    [
        event_list("a", "b"),
        event_list("a", "b", version="audit.k8s.io/v1beta1"),
        line(event(auditID="a")) + b"\n",  # one Event
        line([event(auditID="a"), event(auditID="b")]),
    ],
    ids=["v1-eventlist", "v1beta1-eventlist", "single-event", "array"],
)
def test_every_shape_kube_sends(body: bytes) -> None:
    async def main() -> None:
        async with Webhook() as hook:
            request = hook.posting(body)
            await hook.sent(1)
            hook.sink.settle(0)
            assert (await request)[0] == 200
            for value in hook.sink.received[0]:
                out = msgspec.json.decode(value)
                assert out["kind"] == "Event" and out["apiVersion"].startswith("audit.k8s.io/")

    asyncio.run(main())


def test_not_json_is_answered_400_once_its_dead_letter_is_durable() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            hook.dead.gate.clear()
            request = hook.posting(b"this is not json")
            while not hook.dead.letters:
                await asyncio.sleep(0.01)
            assert await still_waiting(request)
            hook.dead.gate.set()
            status, text, _ = await request
            assert status == 400 and "invalid_json" in text
            (letter,) = hook.dead.letters
            assert letter.rejection.raw == b"this is not json"
            assert letter.rejection.source.startswith("webhook:127.0.0.1:")
            assert hook.sink.received == []

    asyncio.run(main())


def test_bad_items_beside_good_ones_are_dead_lettered_and_the_request_is_answered_200() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            body = b'{"kind":"EventList","items":[' + line(event(auditID="a")) + b',{"auditID":"broken"}]}'
            request = hook.posting(body)
            await hook.sent(1)
            hook.sink.settle(0)
            assert (await request)[0] == 200
            assert [d.rejection.code.value for d in hook.dead.letters] == ["missing_field"]

    asyncio.run(main())


def test_bodies_over_the_limit_get_413_without_being_buffered() -> None:
    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(total // 1000):
            yield b" " * 1000

    async def main() -> None:
        async with Webhook(max_body_bytes=10_000) as hook:
            assert (await hook.post(b" " * 10_001))[0] == 413  # Content-Length says so
            assert (await hook.post(chunks(50_000)))[0] == 413  # chunked: found while reading
            body = line(event(auditID="fits"))
            request = hook.posting(body + b" " * (10_000 - len(body)))  # exactly the limit
            await hook.sent(1)
            hook.sink.settle(0)
            assert (await request)[0] == 200
            assert hook.observed.codes == [413, 413, 200]

    asyncio.run(main())


def test_bearer_token() -> None:
    async def main() -> None:
        async with Webhook(bearer_token="s3cret") as hook:
            status, _, headers = await hook.post(event_list("a"))
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert (await hook.post(event_list("a"), Authorization="Bearer wrong"))[0] == 401
            request = hook.posting(event_list("a"), Authorization="Bearer s3cret")
            await hook.sent(1)
            hook.sink.settle(0)
            assert (await request)[0] == 200
            assert len(hook.sink.received) == 1

    asyncio.run(main())


def test_full_is_503_with_retry_after_and_frees_up_once_delivered() -> None:
    async def main() -> None:
        async with Webhook(max_inflight_requests=1, retry_after_secs=3) as hook:
            first = hook.posting(event_list("a"))
            await hook.sent(1)
            status, _, headers = await hook.post(event_list("b"))
            assert (status, headers["Retry-After"]) == (503, "3")
            hook.sink.settle(0)
            assert (await first)[0] == 200
            again = hook.posting(event_list("b"))
            await hook.sent(2)
            hook.sink.settle(1)
            assert (await again)[0] == 200
            assert max(hook.observed.inflight) == 1

    asyncio.run(main())


def test_not_durable_in_time_is_503_and_the_slot_stays_taken_until_it_is() -> None:
    async def main() -> None:
        async with Webhook(ack_timeout_secs=0.2, max_inflight_requests=1) as hook:
            status, text, _ = await hook.post(event_list("a"))
            assert status == 503 and "not durable within 0.2 s" in text
            assert (await hook.post(event_list("b")))[0] == 503  # still being delivered
            hook.sink.settle(0)
            while hook.observed.inflight[-1]:
                await asyncio.sleep(0.01)
            request = hook.posting(event_list("b"))
            await hook.sent(2)
            hook.sink.settle(1)
            assert (await request)[0] == 200

    asyncio.run(main())


def test_a_failed_delivery_is_answered_503() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            request = hook.posting(event_list("a"))
            await hook.sent(1)
            hook.sink.fail(0)
            status, text, _ = await request
            assert status == 503 and "refused for good" in text

    asyncio.run(main())


def test_stopping_refuses_new_requests_and_is_not_ready() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            assert hook.source.health().ready
            hook.runner.request_stop()
            assert not hook.source.health().ready
            assert (await hook.post(event_list("a")))[0] == 503

    asyncio.run(main())


def test_a_graceful_stop_still_answers_what_is_in_flight() -> None:
    async def main() -> None:
        async with Webhook() as hook:
            request = hook.posting(event_list("a"))
            await hook.sent(1)
            hook.runner.request_stop()
            assert (await hook.post(event_list("b")))[0] == 503  # new ones go elsewhere
            hook.sink.settle(0)
            status, text, _ = await request
            assert (status, text) == (200, "1 events durable\n")

    asyncio.run(main())


def test_only_post_on_the_path() -> None:
    async def main() -> None:
        async with Webhook(path="/audit") as hook:
            async with hook.session.get(hook.url) as answer:
                assert answer.status == 405
            async with hook.session.post(hook.url + "x", data=b"{}") as answer:
                assert answer.status == 404
            assert hook.sink.received == []

    asyncio.run(main())


def test_mutual_tls(tls_files: Any) -> None:
    tls = {"cert_file": str(tls_files.server_cert), "key_file": str(tls_files.server_key)}
    tls["client_ca_file"] = str(tls_files.ca)

    async def attempt(client: ssl.SSLContext) -> tuple[int | str, int]:
        async with Webhook(tls=tls, client_ssl=client) as hook:
            request = hook.posting(event_list("a"))
            while not request.done() and not hook.sink.pending:
                await asyncio.sleep(0.01)
            if hook.sink.pending:
                hook.sink.settle(0)
            try:
                answer: int | str = (await request)[0]
            except aiohttp.ClientError as exc:
                answer = type(exc).__name__
            return answer, len(hook.observed.codes)

    wrong = tls_files.client_context(with_cert=False)
    wrong.load_cert_chain(tls_files.wrong_client_cert, tls_files.wrong_client_key)
    assert asyncio.run(attempt(tls_files.client_context())) == (200, 1)
    # Refused in the TLS handshake: no request ever reaches the handler.
    assert asyncio.run(attempt(tls_files.client_context(with_cert=False))) == ("ClientOSError", 0)
    assert asyncio.run(attempt(wrong)) == ("ClientOSError", 0)


def test_a_client_that_goes_away_mid_body_frees_its_slot_quietly(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)

    async def main() -> None:
        async with Webhook(max_inflight_requests=1) as hook:
            for head in (b"Content-Length: 1000", b"Transfer-Encoding: chunked"):
                _, writer = await asyncio.open_connection("127.0.0.1", hook.port)
                writer.write(b"POST /audit HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n\r\n5\r\n{{{")
                await writer.drain()
                writer.close()
            while len(hook.observed.codes) < 2:
                await asyncio.sleep(0.01)
            assert hook.observed.inflight[-1] == 0 and hook.sink.received == []
            request = hook.posting(event_list("a"))  # the one slot is free again
            await hook.sent(1)
            hook.sink.settle(0)
            assert (await request)[0] == 200

    asyncio.run(main())
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert sum(r.getMessage() == "Webhook request body could not be read." for r in caplog.records) == 2
