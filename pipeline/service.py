"""The Kafka service: consume, ``process``, produce, commit. asyncio only moves data.

Delivery is at-least-once. For every polled batch the outputs and dead
letters are sent with an idempotent ``acks=all`` producer; a partition's
offset is committed only once every record of that batch, and of every batch
before it, has been acknowledged by the broker. Batches in flight are bounded
(``max_inflight_batches``), which bounds memory when outputs are slow.

Outputs are keyed by the event's auditID, so all stages of one request land
in the same output partition, in the order they were read. Dead letters keep
the input record's key.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, MessageSizeTooLargeError

from . import policy as policy_mod
from .config import Config, Kafka
from .errors import ReasonCode, RecordError
from .process import Batch, Processor
from .sink import Pending, Send, send_batches
from .telemetry import Metrics

log = logging.getLogger("auditpipe")

EXIT_OK, EXIT_FAILED, EXIT_UNREACHABLE = 0, 1, 3
DEFAULT_MESSAGE_MAX_BYTES = 1_048_588  # the broker's default message.max.bytes
RECORD_OVERHEAD_BYTES = 1024  # batch and record headers, key, our headers: kept free under the limit


def kv(message: str, **fields: Any) -> str:
    """A structured log line: a sentence, then key=value pairs."""
    return message + "".join(f" {k}={v!r}" if isinstance(v, str) and " " in v else f" {k}={v}"
                             for k, v in fields.items())


def client_options(k: Kafka) -> dict[str, Any]:
    """aiokafka connection options (shared by consumer and producer)."""
    opts: dict[str, Any] = {"bootstrap_servers": k.bootstrap_servers, "client_id": k.client_id,
                            "security_protocol": k.security_protocol}
    if k.security_protocol in ("SSL", "SASL_SSL"):
        from aiokafka.helpers import create_ssl_context

        tls = k.tls
        ctx = create_ssl_context(cafile=tls.ca_file if tls else None, certfile=tls.cert_file if tls else None,
                                 keyfile=tls.key_file if tls else None)
        if tls is not None:
            ctx.check_hostname = tls.check_hostname
        opts["ssl_context"] = ctx
    if k.security_protocol.startswith("SASL"):
        sasl = k.sasl
        if sasl is None:
            raise ValueError("kafka.sasl is required for SASL_* security protocols")
        opts.update(sasl_mechanism=sasl.mechanism, sasl_plain_username=sasl.username,
                    sasl_plain_password=sasl.password)
    return opts


def masked(config: Config) -> dict[str, Any]:
    import msgspec

    data: dict[str, Any] = msgspec.to_builtins(config)
    sasl = (data.get("kafka") or {}).get("sasl")
    if sasl and sasl.get("password"):
        sasl["password"] = "***"
    return data


@dataclass
class InFlight:
    """One polled batch whose records are on their way to the broker."""

    offsets: dict[TopicPartition, int]  # next offset to commit, per partition
    pending: list[Pending]
    started: float


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, service: Service) -> None:
        self.service = service

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Commit what was delivered before giving the partitions up, so the
        # next owner does not re-read it.
        await self.service.drain()
        log.info(kv("Partitions revoked.", partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked)))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(kv("Partitions assigned.", partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned)))


class Service:
    def __init__(self, config: Config, loaded: policy_mod.LoadedPolicy, metrics_port_offset: int = 0) -> None:
        assert config.kafka is not None
        self.config = config
        self.k = config.kafka
        self.processor = Processor(loaded, config)
        self.topics = {o.name: o.topic for o in list(config.outputs) + [config.default_output]}
        missing = [name for name, topic in self.topics.items() if not topic]
        if missing:
            raise ValueError(f"outputs without a topic: {', '.join(missing)}")
        self.metrics = Metrics()
        self.metrics_port = config.metrics.port + metrics_port_offset
        self.inflight: collections.deque[InFlight] = collections.deque()
        # The main loop and a rebalance (drain) may both settle the queue: one at a
        # time, or two could pop past a batch that is not yet delivered.
        self._settle_lock = asyncio.Lock()
        self.stopping = asyncio.Event()
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        # Largest record each topic accepts (max.message.bytes), read from the cluster at start.
        self.max_bytes: dict[str, int] = {}

    # ---- lifecycle -----------------------------------------------------

    async def _start_clients(self) -> None:
        k = self.k
        opts = client_options(k)
        deadline = time.monotonic() + k.startup_deadline_secs
        delay = 0.5
        while True:
            try:
                self.max_bytes = await self._read_size_limits(opts)
                # A batch never grows past the smallest limit, so the broker never
                # refuses one for its size; single records over it are dead-lettered first.
                batch_bytes = min([k.producer_max_batch_bytes, *self.max_bytes.values()]) - RECORD_OVERHEAD_BYTES
                self.producer = AIOKafkaProducer(
                    **opts, acks="all", enable_idempotence=True,
                    compression_type=None if k.compression == "none" else k.compression,
                    linger_ms=k.producer_linger_ms, max_batch_size=max(batch_bytes, 16384),
                    max_request_size=k.producer_max_request_bytes)
                self.consumer = AIOKafkaConsumer(
                    **opts, group_id=k.group_id, enable_auto_commit=False, auto_offset_reset=k.auto_offset_reset,
                    max_poll_records=k.fetch_max_records, session_timeout_ms=k.session_timeout_ms,
                    heartbeat_interval_ms=k.heartbeat_interval_ms, max_poll_interval_ms=k.max_poll_interval_ms,
                    metadata_max_age_ms=k.metadata_max_age_ms)
                await self.producer.start()
                await self.consumer.start()
                self.consumer.subscribe(k.input_topics, listener=_Rebalance(self))
                return
            except KafkaError as exc:
                await self._stop_clients()
                if time.monotonic() + delay > deadline:
                    raise ConnectionError(
                        f"cannot reach Kafka at {k.bootstrap_servers} within {k.startup_deadline_secs:g} s: {exc}"
                    ) from None
                log.warning(kv("Kafka not reachable, retrying.", bootstrap=k.bootstrap_servers,
                               error=type(exc).__name__, retry_in_secs=round(delay, 1)))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _read_size_limits(self, opts: dict[str, Any]) -> dict[str, int]:
        """max.message.bytes of every output topic and the dead-letter topic.

        A topic that does not exist yet (auto-created on first write) gets the
        broker's message.max.bytes. Where the cluster will not say (no
        DescribeConfigs permission), the broker default is assumed.
        """
        topics = sorted({t for t in self.topics.values() if t} | {self.k.dead_letter_topic})
        admin = AIOKafkaAdminClient(**opts)
        await admin.start()
        try:
            cluster = await admin.describe_cluster()
            broker_ids = [str(b["node_id"]) for b in cluster.get("brokers", [])]
            resources = [ConfigResource(ConfigResourceType.TOPIC, t, {"max.message.bytes": None}) for t in topics]
            if broker_ids:
                resources.append(ConfigResource(ConfigResourceType.BROKER, broker_ids[0],
                                                {"message.max.bytes": None}))
            try:
                responses = await admin.describe_configs(resources)
            except KafkaError as exc:
                log.warning(kv("Cannot read topic size limits; assuming the broker default.", error=repr(exc),
                               max_bytes=DEFAULT_MESSAGE_MAX_BYTES))
                return {t: DEFAULT_MESSAGE_MAX_BYTES for t in topics}
        finally:
            await admin.close()
        per_topic: dict[str, int] = {}
        broker_limit = DEFAULT_MESSAGE_MAX_BYTES
        for response in responses:
            for resource in response.to_object()["resources"]:
                for entry in resource["config_entries"]:
                    if resource["error_code"] == 0 and entry["config_value"]:
                        if resource["resource_type"] == ConfigResourceType.BROKER:
                            broker_limit = int(entry["config_value"])
                        else:
                            per_topic[resource["resource_name"]] = int(entry["config_value"])
        limits = {t: per_topic.get(t, broker_limit) for t in topics}
        log.info(kv("Output size limits.", **{t.replace(".", "_").replace("-", "_"): b for t, b in limits.items()}))
        return limits

    async def _stop_clients(self) -> None:
        for client in (self.consumer, self.producer):
            if client is not None:
                try:
                    await client.stop()
                except Exception as exc:  # shutting down: report, do not mask the real outcome
                    log.warning(kv("Error while stopping a Kafka client.", error=repr(exc)))
        self.consumer = self.producer = None

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        server = None
        if self.config.metrics.enabled:
            server = await self.metrics.serve(self.config.metrics.host, self.metrics_port)
        log.info(kv("Starting.", pid=os.getpid(), metrics_port=self.metrics_port, config=masked(self.config)))
        try:
            await self._start_clients()
        except ConnectionError as exc:
            log.error(str(exc))
            return EXIT_UNREACHABLE
        self.metrics.ready = True
        code = EXIT_OK
        try:
            await self._loop()
        except Exception as exc:  # a non-retriable delivery error: stop without committing past it
            log.error(kv("Stopping on an error; offsets after the last delivered batch are not committed.",
                         error=repr(exc)))
            code = EXIT_FAILED
        finally:
            self.metrics.ready = False
            if code == EXIT_OK:
                try:
                    await asyncio.wait_for(self.drain(), self.k.shutdown_timeout_secs)
                except (asyncio.TimeoutError, KafkaError) as exc:
                    log.error(kv("Could not deliver everything in flight before the shutdown timeout.",
                                 error=repr(exc)))
                    code = EXIT_FAILED
            await asyncio.wait_for(self._stop_clients(), self.k.shutdown_timeout_secs)
            if server is not None:
                server.close()
        log.info(kv("Stopped.", exit_code=code))
        return code

    # ---- the loop --------------------------------------------------------

    async def _loop(self) -> None:
        assert self.consumer is not None
        consumer = self.consumer
        stop_task = asyncio.ensure_future(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                fetch = asyncio.ensure_future(consumer.getmany(timeout_ms=self.k.fetch_timeout_ms,
                                                               max_records=self.k.fetch_max_records))
                await asyncio.wait([fetch, stop_task], return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    break
                data = fetch.result()
                if data:
                    await self._handle(data)
                await self._settle(block=len(self.inflight) >= self.k.max_inflight_batches)
                self._update_lag()
        finally:
            stop_task.cancel()

    async def _handle(self, data: dict[TopicPartition, list[Any]]) -> None:
        values: list[bytes] = []
        sources: list[str] = []
        origin: list[Any] = []
        offsets: dict[TopicPartition, int] = {}
        for tp, records in data.items():
            for rec in records:
                values.append(rec.value if rec.value is not None else b"")
                sources.append(f"{tp.topic}/{tp.partition}/{rec.offset}")
                origin.append(rec)
            offsets[tp] = records[-1].offset + 1
        started = time.perf_counter()
        batch = self.processor.process(values, sources)
        self.metrics.observe_batch(batch.stats, time.perf_counter() - started)
        pending = await self._send_all(self._sends(batch, origin, sources))
        self.inflight.append(InFlight(offsets, pending, time.perf_counter()))

    def _sends(self, batch: Batch, origin: list[Any], sources: list[str]) -> list[Send]:
        sends: list[Send] = []
        for name, records in batch.outputs.items():
            topic = self.topics[name]
            assert topic is not None
            limit = self.max_bytes.get(topic, DEFAULT_MESSAGE_MAX_BYTES) - RECORD_OVERHEAD_BYTES
            for r in records:
                if len(r.value) + len(r.key) <= limit:
                    sends.append(Send(topic, r.key, r.value, None, sources[r.index]))
                    continue
                # The broker would refuse it, and an idempotent producer cannot go on
                # past a refused batch: dead-letter it (truncated) instead.
                error = RecordError(ReasonCode.TOO_LARGE, f"output event of {len(r.value)} bytes is over the "
                                    f"max.message.bytes of topic {topic} ({limit + RECORD_OVERHEAD_BYTES})",
                                    "$", r.value, sources[r.index])
                sends.append(self._dead_letter(error, r.key, []))
        for index, error in batch.dead_letters:
            rec = origin[index]
            sends.append(self._dead_letter(error, rec.key, list(rec.headers or ())))
        return sends

    def _dead_letter(self, error: RecordError, key: bytes | None, headers: list[tuple[str, bytes]]) -> Send:
        topic, _, rest = error.source.partition("/")
        partition, _, offset = rest.partition("/")
        value = error.raw
        extra = [("auditpipe.reason", error.code.value.encode()),
                 ("auditpipe.message", error.message.encode("utf-8", "replace")[:4000]),
                 ("auditpipe.path", error.path.encode()),
                 ("auditpipe.source.topic", topic.encode()),
                 ("auditpipe.source.partition", partition.encode()),
                 ("auditpipe.source.offset", offset.encode())]
        room = self.max_bytes.get(self.k.dead_letter_topic, DEFAULT_MESSAGE_MAX_BYTES) - 8 * RECORD_OVERHEAD_BYTES
        if len(value) > room:
            # The broker would refuse the original; keep its head and say so.
            extra.append(("auditpipe.truncated-from-bytes", str(len(value)).encode()))
            value = value[:room]
        self.metrics.dead.labels(error.code.value).inc()
        log.warning(kv("Dead-lettered a record.", source=error.source, reason=error.code.value, path=error.path))
        return Send(self.k.dead_letter_topic, key, value, headers + extra)

    async def _send_all(self, sends: list[Send]) -> list[Pending]:
        assert self.producer is not None
        pending = await send_batches(self.producer, sends)
        dead_topic = self.k.dead_letter_topic
        for p in pending:
            if p.topic != dead_topic:
                self.metrics.events_out.labels(p.topic).inc(len(p.sends))
        return pending

    async def _settle(self, block: bool) -> None:
        """Commit every finished batch at the head of the queue (in order)."""
        async with self._settle_lock:
            while self.inflight:
                head = self.inflight[0]
                if not block and not all(p.future.done() for p in head.pending):
                    return
                await self._deliver(head)
                self.inflight.popleft()
                await self._commit(head.offsets)
                block = False

    async def _deliver(self, batch: InFlight) -> None:
        attempts = 0
        while True:
            results = await asyncio.gather(*(p.future for p in batch.pending), return_exceptions=True)
            failures = [(p, r) for p, r in zip(batch.pending, results) if isinstance(r, BaseException)]
            if not failures:
                self.metrics.delivery_seconds.observe(time.perf_counter() - batch.started)
                return
            retry: list[Send] = []
            for p, exc in failures:
                if getattr(exc, "retriable", False) or isinstance(exc, (KafkaConnectionError, asyncio.TimeoutError)):
                    retry.extend(p.sends)  # the acknowledged batches are not sent again
                elif isinstance(exc, MessageSizeTooLargeError):
                    raise RuntimeError(f"{p.topic}[{p.partition}] refused a batch as too large: its "
                                       "max.message.bytes must have shrunk since start; a restart reads it again")
                else:
                    raise RuntimeError(f"delivery to {p.topic}[{p.partition}] failed: {exc!r}")
            attempts += 1
            if attempts > 20:
                raise RuntimeError(f"delivery failed after {attempts} attempts: {failures[0][1]!r}")
            log.warning(kv("Delivery failed, sending again.", error=repr(failures[0][1]), records=len(retry),
                           attempt=attempts))
            await asyncio.sleep(min(0.5 * attempts, 5.0))
            batch.pending = await self._send_all(retry)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        assigned = self.consumer.assignment()
        mine = {tp: off for tp, off in offsets.items() if tp in assigned}
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except KafkaError as exc:
            # The records were delivered; after a rebalance the new owner re-reads
            # them (duplicates, never loss).
            log.warning(kv("Commit failed; records may be delivered again.", error=repr(exc)))

    async def drain(self) -> None:
        """Deliver and commit everything in flight."""
        while self.inflight:
            await self._settle(block=True)

    def _update_lag(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = consumer._subscription.subscription.assignment.state_value(tp).position  # noqa: SLF001
            except AttributeError:
                continue
            if position is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(high - position, 0))


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s level=%(levelname)s logger=%(name)s pid=%(process)d msg=%(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def _run_one(config: Config, loaded: policy_mod.LoadedPolicy, port_offset: int = 0) -> int:
    _configure_logging(config.log_level)
    runner: Any = asyncio.run
    if not os.environ.get("AUDITPIPE_NO_UVLOOP"):
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:  # optional (`pip install auditpipe[fast]`): the stdlib loop works too
            pass
    service = Service(config, loaded, port_offset)
    code: int = runner(service.run())
    return code


def _worker(config: Config, loaded: policy_mod.LoadedPolicy, index: int) -> None:
    sys.exit(_run_one(config, loaded, index))


def run_service(config: Config, loaded: policy_mod.LoadedPolicy, workers: int = 1) -> int:
    """Run the service; ``workers`` > 1 runs that many processes in one consumer group."""
    if workers <= 1:
        return _run_one(config, loaded)
    _configure_logging(config.log_level)
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(config, loaded, i), name=f"auditpipe-worker-{i}")
             for i in range(workers)]
    for p in procs:
        p.start()

    def forward(signum: int, _frame: Any) -> None:
        for p in procs:
            if p.pid is not None and p.is_alive():
                os.kill(p.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = []
    for p in procs:
        p.join()
        codes.append(p.exitcode or 0)
    log.info(kv("All workers stopped.", exit_codes=codes))
    return max(codes) if codes else 0
