"""Where a broker keeps its state inside its home directory, and reading it back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .process import is_broker_process, reap_if_spawned


@dataclass(frozen=True)
class BrokerPaths:
    """The files and directories of one broker home."""

    home: Path

    @property
    def data(self) -> Path:
        """Kafka's log.dirs (topics, offsets, the KRaft metadata log)."""
        return self.home / "data"

    @property
    def tmp(self) -> Path:
        """The JVM's java.io.tmpdir."""
        return self.home / "tmp"

    @property
    def tls(self) -> Path:
        return self.home / "tls"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def log(self) -> Path:
        return self.home / "broker.log"

    @property
    def previous_log(self) -> Path:
        return self.home / "broker.log.1"

    @property
    def pid(self) -> Path:
        return self.home / "broker.pid"

    @property
    def state(self) -> Path:
        """What the running broker was started with (addresses, settings digest)."""
        return self.home / "broker.json"

    @property
    def formatted(self) -> Path:
        """Written when the data directory is formatted: which layout it has."""
        return self.home / "formatted.json"

    @property
    def lock(self) -> Path:
        return self.home / ".lock"

    @property
    def cds_pending(self) -> Path:
        """Names a class-data archive the running JVM will write at exit."""
        return self.home / "cds-pending"

    def generated_files(self) -> list[Path]:
        """The files (not directories) ``reset`` removes."""
        return [
            self.properties,
            self.log4j,
            self.log,
            self.previous_log,
            self.pid,
            self.state,
            self.formatted,
            self.cds_pending,
        ]

    def read_state(self) -> dict[str, str]:
        """What the running broker recorded at its start (empty if nothing)."""
        try:
            state = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in state.items() if isinstance(v, str)}

    def running_pid(self) -> int | None:
        """The recorded pid, if it is still this home's broker."""
        try:
            pid = int(self.pid.read_text().strip())
        except (OSError, ValueError):
            return None
        if is_broker_process(pid, self.properties):
            return pid
        reap_if_spawned(pid)  # a broker we started that died on its own: no zombie left behind
        return None

    def clear_runtime(self) -> None:
        """Forget the recorded pid and state (the broker is gone)."""
        self.pid.unlink(missing_ok=True)
        self.state.unlink(missing_ok=True)
