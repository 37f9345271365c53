"""End-to-end throughput against the real broker, with its baselines in the same run.

    python bench/e2e.py [--events 1000000] [--rate 5000] [--latency-secs 20]

1. Fills an input topic with N generated events (kcat, a librdkafka client,
   so filling is not what we measure).
2. Runs, one after the other, each as its own process on the same backlog with
   the same batching (getmany of up to 2,000 records, one idempotent acks=all
   producer, commit after delivery):
   - passthrough: forwards the bytes unchanged: the ceiling this client and
     broker allow on this machine;
   - naive: the same loop with the naive transform (json module, dicts, a
     Python loop over the rules);
   - auditpipe: the real service (`auditpipe run --config`), 1 worker, then
     2 workers (one per core).
   Each run ends when its consumer group has committed every input offset;
   events/s and MB/s are over that time. RSS is sampled every 0.5 s.
3. Latency: auditpipe at a fixed moderate input rate; p50/p99 of (output
   record timestamp - input record timestamp) per event.

Prints a Markdown table and writes bench/results/e2e.json. Uses
KAFKA_BOOTSTRAP_SERVERS, else the broker of devtools.kafka (started if needed, with
scripts/kafka-dev's environment: KAFKA_DEV_HOME, KAFKA_DEV_PORT, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import run_until_done  # noqa: E402 - after the path is set

BATCH = 2000
POLICY = ROOT / "configs" / "policies" / "volume-cut.yaml"


# --------------------------------------------------------------------------- roles (child processes)


async def _forward(bootstrap: str, src: str, dst: str, group: str, transform: str) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from pipeline.kafka.batches import Send, send_batches

    policy_doc = None
    if transform == "naive":
        import yaml

        from bench.naive import naive_process

        policy_doc = yaml.safe_load(POLICY.read_text())
    consumer = AIOKafkaConsumer(
        src,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        compression_type=os.environ.get("E2E_COMPRESSION", "zstd") or None,  # the service's default
        max_batch_size=1048576,
    )
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        while not stop.is_set():
            data = await consumer.getmany(timeout_ms=500, max_records=BATCH)
            if not data:
                continue
            sends: list[Send] = []
            for records in data.values():
                if policy_doc is not None:
                    values = naive_process([r.value for r in records], policy_doc, "bench")
                    sends.extend(Send(dst, None, v) for v in values)
                else:
                    sends.extend(Send(dst, r.key, r.value) for r in records)
            if transform == "passthrough-send":
                # The step before the batch API: one send() (and one future) per record.
                futures = [await producer.send(s.topic, s.value, key=s.key) for s in sends]
                await asyncio.gather(*futures)
            else:
                # The same batching as the service: aiokafka's batch API, one future per partition batch.
                pending = await send_batches(producer, sends)
                await asyncio.gather(*(p.future for p in pending))
            await consumer.commit({tp: rs[-1].offset + 1 for tp, rs in data.items()})
    finally:
        await consumer.stop()
        await producer.stop()


def _fill(bootstrap: str, topic: str, events: list[bytes], partitions: int) -> int:
    from devtools.kafka.admin import create_topics

    asyncio.run(create_topics(bootstrap, [topic], partitions))
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        for e in events:
            f.write(e + b"\n")
        name = f.name
    subprocess.run(
        [
            "kcat",
            "-P",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-z",
            "lz4",
            "-X",
            "linger.ms=20",
            "-X",
            "batch.num.messages=10000",
            "-l",
            name,
        ],
        check=True,
    )
    os.unlink(name)
    return sum(len(e) for e in events)


def _keep_all(tmp: Path, level: str) -> Path:
    path = tmp / f"keep-all-{level}.yaml"
    path.write_text(f"apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{{level: {level}}}]\n")
    return path


def _service_config(tmp: Path, bootstrap: str, src: str, dst: str, group: str, metrics_port: int) -> Path:
    cfg = tmp / f"{group}.yaml"
    cfg.write_text(f"""
policy: {POLICY}
enrichment: {{cluster_name: bench}}
default_output: {{name: out, type: kafka, topic: {dst}}}
dead_letters: {{type: kafka, topic: {dst}.dlq}}
metrics: {{port: {metrics_port}, host: 127.0.0.1}}
log_level: WARNING
sources:
  - type: kafka
    topics: [{src}]
    group_id: {group}
    fetch_max_records: {BATCH}
kafka:
  bootstrap_servers: "{bootstrap}"
""")
    return cfg


async def _latencies(bootstrap: str, src: str, dst: str) -> list[float]:
    from aiokafka import AIOKafkaConsumer

    sent: dict[str, int] = {}
    got: dict[str, int] = {}
    for topic, store in ((src, sent), (dst, got)):
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        idle = 0
        while idle < 4:
            data = await consumer.getmany(timeout_ms=500, max_records=10000)
            if not data:
                idle += 1
                continue
            idle = 0
            for records in data.values():
                for r in records:
                    aid = json.loads(r.value)["auditID"] if topic == dst else r.key.decode()
                    store.setdefault(aid, r.timestamp)
        await consumer.stop()
    return sorted(got[a] - sent[a] for a in got if a in sent)


def _paced_produce(bootstrap: str, topic: str, events: list[bytes], rate: int) -> None:
    from aiokafka import AIOKafkaProducer

    async def go() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, acks="all")
        await producer.start()
        start = time.perf_counter()
        for i, value in enumerate(events):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            aid = json.loads(value)["auditID"]
            await producer.send(topic, value, key=aid.encode())
        await producer.flush()
        await producer.stop()

    asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rate", type=int, default=5000, help="events/s for the latency run")
    parser.add_argument("--latency-secs", type=int, default=20)
    parser.add_argument(
        "--only",
        default=",".join(
            [
                "passthrough-send",
                "passthrough",
                "passthrough-nocomp",
                "naive",
                "auditpipe-asyncio",
                "auditpipe",
                "auditpipe-nocomp",
                "auditpipe-2w",
                "auditpipe-keepall",
                "auditpipe-keepall-nocomp",
                "latency",
            ]
        ),
    )
    parser.add_argument("--role", choices=["passthrough", "passthrough-send", "naive"])
    parser.add_argument("--args", nargs="*")
    args = parser.parse_args()
    if args.role:
        bootstrap, src, dst, group = args.args
        asyncio.run(_forward(bootstrap, src, dst, group, args.role))
        return

    if shutil.which("kcat") is None:  # it fills the input topic, as Fluent Bit's librdkafka would
        sys.exit("bench/e2e.py needs kcat (a librdkafka client) on PATH: apt-get install kcat")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    started = False
    if not bootstrap:
        from devtools.kafka.env import broker_from_env

        broker = broker_from_env(log=lambda message: print(f"kafka: {message}", file=sys.stderr, flush=True))
        started = broker.start()
        bootstrap = broker.bootstrap
    try:
        _measure(args, bootstrap)
    finally:
        if started:  # leave no broker behind that this run started: it would hold the port
            broker.stop()


def _measure(args: argparse.Namespace, bootstrap: str) -> None:
    from bench.data import make_events
    from devtools.kafka.admin import create_topics
    from devtools.net import free_port

    tag = uuid.uuid4().hex[:6]
    src = f"bench-in-{tag}"
    print(f"generating {args.events:,} events ...", flush=True)
    events = make_events(args.events, seed=0)
    size = _fill(bootstrap, src, events, args.partitions)
    print(f"filled {src}: {args.events:,} events, {size / 1e6:.1f} MB", flush=True)
    results: dict[str, Any] = {
        "events": args.events,
        "input_bytes": size,
        "partitions": args.partitions,
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "runs": {},
    }
    tmp = Path(tempfile.mkdtemp())
    py = sys.executable
    plan = [name for name in args.only.split(",")]
    for name in plan:
        if name == "latency":
            continue
        group = f"bench-{name}-{tag}"
        dst = f"bench-out-{name}-{tag}"
        # auditpipe never creates topics; one partition each, as the broker's auto-creation used to make them.
        asyncio.run(create_topics(bootstrap, [dst, f"{dst}.dlq"], 1))
        env = None
        if name.endswith("nocomp") and not name.startswith("auditpipe"):
            env = {**os.environ, "E2E_COMPRESSION": ""}  # no output compression
            name_role = name.removesuffix("-nocomp")
        else:
            name_role = name
        if name_role in ("passthrough", "passthrough-send", "naive"):
            cmd = [py, str(Path(__file__)), "--role", name_role, "--args", bootstrap, src, dst, group]
        else:
            cfg = _service_config(tmp, bootstrap, src, dst, group, free_port())
            if "keepall" in name:
                # Every event out with its bodies: the same output volume as the pass-through.
                cfg.write_text(cfg.read_text().replace(str(POLICY), str(_keep_all(tmp, "RequestResponse"))))
            workers = "2" if name.endswith("2w") else "1"
            cmd = [py, "-m", "pipeline", "run", "--config", str(cfg), "--workers", workers]
            if name.endswith("asyncio"):
                env = {**os.environ, "AUDITPIPE_NO_UVLOOP": "1"}  # measure what uvloop buys
            if name.endswith("nocomp"):
                cfg.write_text(cfg.read_text() + "  compression: none\n")
        print(f"running {name} ...", flush=True)
        run = run_until_done(cmd, bootstrap, group, src, args.events, env=env)
        run["events_per_sec"] = run["steady_events_per_sec"]
        run["mb_per_sec"] = run["events_per_sec"] * size / args.events / 1e6
        run["peak_rss_mb"] = max(kb for _, kb in run["rss_kb"]) / 1024
        results["runs"][name] = run
        print(
            f"  {name}: {run['events_per_sec']:,.0f} events/s (steady), {run['mb_per_sec']:.1f} MB/s in, "
            f"{run['seconds']:.1f} s in all, peak RSS {run['peak_rss_mb']:.0f} MB",
            flush=True,
        )

    if "latency" in plan:
        n = args.rate * args.latency_secs
        lsrc, ldst, group = f"lat-in-{tag}", f"lat-out-{tag}", f"lat-{tag}"
        asyncio.run(create_topics(bootstrap, [lsrc, ldst, f"{ldst}.dlq"], 1))
        cfg = _service_config(tmp, bootstrap, lsrc, ldst, group, free_port())
        # A policy that keeps every event, so every input has a latency.
        cfg.write_text(cfg.read_text().replace(str(POLICY), str(_keep_all(tmp, "Metadata"))))
        proc = subprocess.Popen(
            [py, "-m", "pipeline", "run", "--config", str(cfg)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(5)
        print(f"latency run: {n:,} events at {args.rate:,}/s ...", flush=True)
        _paced_produce(bootstrap, lsrc, make_events(n, seed=1), args.rate)
        time.sleep(5)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
        lat = asyncio.run(_latencies(bootstrap, lsrc, ldst))
        results["latency"] = {
            "rate": args.rate,
            "events": len(lat),
            "p50_ms": lat[len(lat) // 2],
            "p99_ms": lat[int(len(lat) * 0.99)],
            "max_ms": lat[-1],
        }
        print(
            f"  latency at {args.rate}/s: p50 {lat[len(lat) // 2]} ms, p99 {lat[int(len(lat) * 0.99)]} ms", flush=True
        )

    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "e2e.json").write_text(json.dumps(results, indent=1))
    print(table(results))


def table(results: dict[str, Any]) -> str:
    runs = results["runs"]
    naive = runs.get("naive", {}).get("events_per_sec")
    lines = [
        f"End to end, {results['events']:,} events ({results['input_bytes'] / 1e6:.0f} MB), "
        f"{results['partitions']} partitions, {results['date']}, {results['machine']}",
        "",
        "| pipeline | events/s (steady) | MB/s in | vs pass-through (same codec) | vs naive | whole run | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in runs.items():
        eps = run["events_per_sec"]
        # Compare with the pass-through that compresses its output the same way.
        ceiling = runs.get("passthrough-nocomp" if name.endswith("nocomp") else "passthrough", {}).get("events_per_sec")
        vs_c = f"{eps / ceiling:.0%}" if ceiling else "-"
        vs_n = f"{eps / naive:.1f}x" if naive else "-"
        lines.append(
            f"| {name} | {eps:,.0f} | {run['mb_per_sec']:.1f} | {vs_c} | {vs_n} | "
            f"{run['seconds']:.1f} s | {run['peak_rss_mb']:.0f} MB |"
        )
    if "latency" in results:
        lat = results["latency"]
        lines += [
            "",
            f"Latency at {lat['rate']:,} events/s: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms "
            f"(max {lat['max_ms']} ms, {lat['events']:,} events)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
