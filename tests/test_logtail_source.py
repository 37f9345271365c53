"""The log source's contract, in process: the checkpoint is written on
acknowledge and only then, health says why it is not ready, request_stop ends
an idle ``batches()``, a broken checkpoint stops the start with a clear error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pipeline.config import Limits
from pipeline.config import LogSource as LogSourceConfig
from pipeline.errors import StartupError
from pipeline.sources.base import SourceBatch
from pipeline.sources.logtail import LogSource

DEADLINE = 60  # for a hang to fail the test rather than block it; not a speed check


async def _no_drain() -> None:
    pass


def source(tmp_path: Path, **options: object) -> LogSource:
    config = LogSourceConfig(
        paths=[str(tmp_path / "logs" / "audit.log")],
        checkpoint_path=str(tmp_path / "state" / "c.json"),
        poll_interval_ms=20,
        **options,  # type: ignore[arg-type]
    )
    return LogSource(config, Limits(max_batch_records=2))


def test_checkpoint_is_written_on_acknowledge_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        src = source(tmp_path)
        await src.start(_no_drain)
        assert not src.health().ready
        assert src.health().reason == f"no file matches {tmp_path}/logs/audit.log"
        (tmp_path / "logs").mkdir()
        (tmp_path / "logs" / "audit.log").write_bytes(b'{"a":1}\n{"a":2}\n{"a":3}\n')
        batches = src.batches()
        first: SourceBatch = await asyncio.wait_for(anext(batches), DEADLINE)
        second: SourceBatch = await asyncio.wait_for(anext(batches), DEADLINE)
        assert first.values == [b'{"a":1}', b'{"a":2}'] and second.values == [b'{"a":3}']
        assert src.health().ready
        checkpoint = tmp_path / "state" / "c.json"
        assert not checkpoint.exists()  # read is not durable: nothing written yet
        await src.acknowledge([first.position])
        [entry] = json.loads(checkpoint.read_bytes())["files"]
        assert (entry["offset"], entry["line"]) == (16, 2)
        await src.acknowledge([second.position])
        [entry] = json.loads(checkpoint.read_bytes())["files"]
        assert (entry["offset"], entry["line"]) == (24, 3)
        src.request_stop()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(anext(batches), DEADLINE)  # idle, stopped: the iterator ends
        await src.close()

    asyncio.run(scenario())


def test_a_broken_checkpoint_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "c.json").write_text("{not json")

    async def scenario() -> None:
        await source(tmp_path).start(_no_drain)

    with pytest.raises(StartupError, match=r"c\.json: not a log-source checkpoint .* move it away to start over"):
        asyncio.run(scenario())
