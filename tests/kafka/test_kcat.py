"""Input produced by a real librdkafka client (kcat, as Fluent Bit uses
librdkafka), in each Fluent Bit shape (wire-formats §2.5) and each codec."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devtools.kafka.endpoints import Endpoints

from ..conftest import REAL_AUDIT
from .test_service import POLICY, Setup
from .util import audit_ids, read_all

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(600)]

CODECS = ["gzip", "snappy", "lz4", "zstd"]


def shapes(line: str, index: int) -> dict[str, str]:
    """One real apiserver line in Fluent Bit's four Kafka shapes, with a distinct auditID."""
    ev = json.loads(line)
    ev["auditID"] = f"{ev['auditID']}-{index}"
    raw = json.dumps(ev, separators=(",", ":"))
    return {
        "A-envelope": json.dumps({"@timestamp": 1684336111.002417, "log": raw}, separators=(",", ":")),
        "B-flattened": json.dumps({"@timestamp": 1684336110.61991, **ev}, separators=(",", ":")),
        "C-raw": raw,
        "D-iso-timestamp": json.dumps({"@timestamp": "2023-05-17T15:08:31.002417Z", **ev}, separators=(",", ":")),
        "E-container-log": json.dumps(
            {
                "time": "2023-05-17T15:08:31.002417311Z",
                "stream": "stdout",
                "_p": "F",
                "log": raw,
                "kubernetes": {"pod_name": "kube-apiserver-minikube", "namespace_name": "kube-system"},
            },
            separators=(",", ":"),
        ),
    }


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_every_shape(codec: str, tmp_path: Path, kafka_broker: Endpoints) -> None:
    if shutil.which("kcat") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("kcat is required in CI (apt-get install -y kcat)")
        pytest.skip("kcat not installed (apt-get install -y kcat)")
    bootstrap = kafka_broker.bootstrap
    s = Setup(tmp_path, bootstrap)
    s.config.write_text(s.config.read_text().replace("policy.yaml", "policy-all.yaml"))
    (tmp_path / "policy-all.yaml").write_text(POLICY.replace("verbs: [get]", "verbs: [never]"))
    source = (REAL_AUDIT / "crowdsec-hub-k8s-audit.jsonl").read_text().splitlines()
    expected: set[str] = set()
    messages: list[str] = []
    for i in range(25):
        for text in shapes(source[i % len(source)], i).values():
            messages.append(text)
            expected.add(json.loads(source[i % len(source)])["auditID"] + f"-{i}")
    payload = tmp_path / "messages.txt"
    payload.write_text("\n".join(messages) + "\n")
    subprocess.run(
        ["kcat", "-P", "-b", bootstrap, "-t", s.input, "-z", codec, "-l", str(payload)],
        check=True,
        timeout=60,
        capture_output=True,
    )
    proc = s.start()
    try:
        out = s.wait_for(s.rest, len(expected))
    finally:
        proc.terminate()
        proc.wait(60)
    ids = audit_ids(out)
    assert set(ids) == expected
    assert len(ids) == len(messages)  # each shape delivered its event once
    dead = asyncio.run(read_all(bootstrap, s.dlq, idle_secs=1.0, timeout_secs=10))
    assert dead == []
    bodies = [json.loads(r.value) for r in out]
    # Flattened shapes keep Fluent Bit's key; raw UTF-8 survives every codec.
    assert sum("@timestamp" in b for b in bodies) == 2 * 25
    assert any(b["annotations"].get("apiserver.latency.k8s.io/etcd", "").endswith("\u00b5s") for b in bodies)
