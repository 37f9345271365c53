"""Running one pipeline of the end-to-end benchmark as its own process until
its consumer group has committed every input offset, sampling its memory."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _rss_kb(pid: int) -> int:
    total = 0
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    except FileNotFoundError:
        children = []
    for p in [str(pid), *children]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class _Progress:
    """Polls a consumer group's committed offsets with one long-lived admin client."""

    def __init__(self, bootstrap: str) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        async def start() -> AIOKafkaAdminClient:
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            return admin

        self.loop = asyncio.new_event_loop()
        self.admin = self.loop.run_until_complete(start())

    def committed(self, group: str, topic: str) -> int:
        async def go() -> int:
            try:
                offsets = await self.admin.list_consumer_group_offsets(group)
            except Exception:
                return 0
            return sum(m.offset for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)

        return self.loop.run_until_complete(go())

    def close(self) -> None:
        self.loop.run_until_complete(self.admin.close())
        self.loop.close()


def run_until_done(
    cmd: list[str],
    bootstrap: str,
    group: str,
    topic: str,
    total: int,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
) -> dict[str, Any]:
    """Run ``cmd`` until its group committed ``total`` offsets.

    Reports the steady-state rate (between 10 % and 90 % committed), so process
    start and group join do not count, and the total time.
    """
    log = open(Path(tempfile.gettempdir()) / f"e2e-{group}.log", "wb")  # noqa: SIM115 - closed after the run
    progress = _Progress(bootstrap)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True)
    rss: list[tuple[float, int]] = []
    samples: list[tuple[float, int]] = []
    try:
        while time.perf_counter() - started < timeout:
            time.sleep(0.25)
            now = time.perf_counter() - started
            rss.append((round(now, 1), _rss_kb(proc.pid)))
            if proc.poll() is not None:
                raise RuntimeError(f"{cmd} exited early with {proc.returncode}; see {log.name}")
            done = progress.committed(group, topic)
            samples.append((now, done))
            if done >= total:
                break
        elapsed = time.perf_counter() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        progress.close()
    t10 = next(t for t, c in samples if c >= total * 0.1)
    c10 = next(c for t, c in samples if c >= total * 0.1)
    t90 = next(t for t, c in samples if c >= total * 0.9)
    c90 = next(c for t, c in samples if c >= total * 0.9)
    steady = (c90 - c10) / (t90 - t10) if t90 > t10 else total / elapsed
    return {"seconds": elapsed, "committed": samples[-1][1], "steady_events_per_sec": steady, "rss_kb": rss}
