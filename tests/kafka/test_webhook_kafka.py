"""kube-apiserver's webhook backend -> auditpipe -> Kafka (acks=all), with
auditpipe killed with ``kill -9`` mid-stream and restarted within the
apiserver's retry window: no event is lost; the duplicates (batches written to
Kafka whose 200 never left) are counted and reported."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from devtools.kafka.endpoints import Endpoints
from pipeline.generate import make_events

from ..falco_receiver import audit_keys
from ..tlsfiles import TlsFiles
from ..webhook.util import Auditpipe, canonical, without_auditpipe, write_events, write_kubeconfig
from .util import create_topics, read_all, unique

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]


def kafka_auditpipe(tmp: Path, tls: TlsFiles, bootstrap: str, topic: str, dead_topic: str) -> Auditpipe:
    return Auditpipe(
        tmp,
        tls,
        default_output={"name": "audit", "type": "kafka", "topic": topic},
        extra={
            "kafka": {"bootstrap_servers": bootstrap, "startup_deadline_secs": 30},
            "dead_letters": {"type": "kafka", "topic": dead_topic},
        },
    )


def start_replay(binary: Path, kubeconfig: Path, events: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(binary), "webhook", "--kubeconfig", str(kubeconfig), "--events", str(events), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_stream_loses_nothing(
    tmp_path: Path, kafka_broker: Endpoints, apiserver_replay: Path, tls_files: TlsFiles
) -> None:
    bootstrap = kafka_broker.bootstrap
    topic, dead_topic = unique("webhook-out"), unique("webhook-dlq")
    asyncio.run(create_topics(bootstrap, [topic, dead_topic], 3))
    lines = make_events(6000, seed=9)
    events = write_events(tmp_path / "events.jsonl", lines)
    auditpipe = kafka_auditpipe(tmp_path, tls_files, bootstrap, topic, dead_topic).start()
    kubeconfig = write_kubeconfig(
        tmp_path / "kubeconfig", auditpipe.url, tls_files, cert=(tls_files.client_cert, tls_files.client_key)
    )
    # About 4 s of traffic; kube retries a failed batch after 1 s, 1.5 s, 2.25 s, 3.4 s (5 attempts).
    flags = ("--rate", "1500", "--batch-max-size", "100", "--initial-backoff", "1s", "--buffer-size", "20000")
    sender = start_replay(apiserver_replay, kubeconfig, events, *flags)
    try:
        while auditpipe.answered()[200] < 5:  # mid-stream: some batches durable, more coming
            assert sender.poll() is None, "the replay ended before auditpipe was killed"
            time.sleep(0.05)
        answered_before = auditpipe.answered()
        auditpipe.kill()
        time.sleep(0.5)
        auditpipe.start()  # same config, same port
        out, err = sender.communicate(timeout=300)
        answered_after = auditpipe.answered()
    finally:
        if sender.poll() is None:
            sender.kill()
        code = auditpipe.stop()
    assert code == 0, auditpipe.log_text()
    summary = json.loads(out.strip().splitlines()[-1])
    assert (sender.returncode, summary["dropped"]) == (0, 0), f"{summary}\n{err[-3000:]}"

    records = asyncio.run(read_all(bootstrap, topic, expect=len(lines), timeout_secs=120))
    got: list[dict[str, Any]] = [json.loads(r.value) for r in records]
    sent = Counter(audit_keys([json.loads(x) for x in lines]))
    received = Counter(audit_keys(got))
    missing = sent - received
    duplicates = received - sent
    print(
        f"kill -9: {len(lines)} events sent, {len(got)} records in Kafka, {sum(missing.values())} lost, "
        f"{sum(duplicates.values())} duplicates of {len(duplicates)} events; answers before the kill "
        f"{dict(answered_before)}, after the restart {dict(answered_after)}"
    )
    for (audit_id, stage), extra in sorted(duplicates.items()):
        print(f"  duplicate x{extra}: {audit_id} {stage}")
    assert not missing, f"lost {sum(missing.values())} events"
    assert set(received) == set(sent)
    # Duplicates are whole copies of what was sent, nothing else.
    assert {canonical(without_auditpipe(e)) for e in got} == {canonical(json.loads(x)) for x in lines}
    assert answered_after[200] > 0
    dead = asyncio.run(read_all(bootstrap, dead_topic, idle_secs=2, timeout_secs=30))
    assert dead == []
