"""An offline run whose outputs are Kafka topics: files in, a real broker out,
dead letters on a topic, and the run ends with the input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.kafka.endpoints import Endpoints
from pipeline.cli import main

from ..helpers import event, line
from .util import create_topics, read_all, unique

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]


def test_files_to_topics(tmp_path: Path, kafka_broker: Endpoints, capfd: pytest.CaptureFixture[str]) -> None:
    import asyncio

    out, dead = unique("file-out"), unique("file-dlq")
    asyncio.run(create_topics(kafka_broker.bootstrap, [out, dead], 2))
    good = [line(event(auditID=f"f-{i}")) for i in range(300)]
    data = tmp_path / "audit.log"
    data.write_bytes(b"".join(x + b"\n" for x in good[:150]) + b"{broken\n" + b"".join(x + b"\n" for x in good[150:]))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
kafka: {{bootstrap_servers: "{kafka_broker.bootstrap}", startup_deadline_secs: 20}}
sources: [{{type: file, paths: [audit.log]}}]
default_output: {{type: kafka, name: out, topic: {out}}}
dead_letters: {{type: kafka, topic: {dead}}}
""")
    assert main(["run", "--config", str(cfg)]) == 1  # one record rejected
    records = asyncio.run(read_all(kafka_broker.bootstrap, out, expect=300))
    letters = asyncio.run(read_all(kafka_broker.bootstrap, dead, expect=1))
    assert sorted(json.loads(r.value)["auditID"] for r in records) == sorted(f"f-{i}" for i in range(300))
    assert [r.value for r in letters] == [b"{broken"]
    headers = dict(letters[0].headers)
    assert headers["auditpipe.reason"] == b"invalid_json"
    assert headers["auditpipe.source"] == f"{data}:151".encode()
    err = capfd.readouterr().err
    assert "error: " in err and ":151: invalid_json" in err and "events out:  300" in err
