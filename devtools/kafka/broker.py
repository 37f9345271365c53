"""The broker's lifecycle: start (idempotent), stop, kill, restart, reset, status, logs.

A :class:`Broker` is one single-node Apache Kafka (KRaft, combined broker+controller)
whose state lives in ``home``. The JVM runs in its own session, so it outlives the
process that started it; any later :class:`Broker` with the same home finds it again
through the pid recorded there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from . import admin, launch
from .errors import BrokerError
from .jars import default_cache, ensure_jars
from .jvm import LOG4J2_PROPERTIES, Jvm, cds_finish, cds_flags
from .paths import BrokerPaths
from .process import file_lock, reap_if_spawned
from .properties import render_properties
from .settings import (
    KAFKA_VERSION,
    SASL_MECHANISMS,
    SASL_PASSWORD,
    SASL_USER,
    BrokerPorts,
    Listener,
    ListenerNames,
    TlsStores,
    broker_settings,
    helper_listeners,
)
from .storage import ensure_formatted
from .tls import TlsMaterial, ensure_tls_material

LOG_TAIL_ON_FAILURE = 40

__all__ = ["Broker", "BrokerError", "BrokerStatus", "ListenerAddresses", "RuntimeOptions"]


@dataclass(frozen=True)
class RuntimeOptions:
    """How the broker process is run (all have working defaults)."""

    cache: Path | None = None  # default: ~/.cache/auditpipe/kafka-<version>
    java: str = "java"
    mvn: tuple[str, ...] = ("mvn",)
    openssl: str = "openssl"
    heap_opts: tuple[str, ...] = ("-Xms256m", "-Xmx768m")
    jvm_opts: tuple[str, ...] = ()
    start_timeout_secs: float = 120.0
    stop_timeout_secs: float = 30.0
    cds: bool = True
    verbose: bool = False  # also log each readiness step while start() waits


@dataclass(frozen=True)
class BrokerStatus:
    """Whether the broker of a home runs, and where (as recorded when it was started)."""

    running: bool
    pid: int | None
    bootstrap: str | None
    addresses: Mapping[str, str] = dataclasses.field(default_factory=dict)  # listener role -> address


class ListenerAddresses:
    """Where each listener of a broker is, and the SASL credentials it accepts."""

    sasl_user = SASL_USER
    sasl_password = SASL_PASSWORD
    sasl_mechanisms = SASL_MECHANISMS

    def __init__(self, listeners: list[Listener]) -> None:
        self.listeners = listeners

    def address(self, role: str) -> str:
        """``host:port`` of the listener with this role (a :class:`BrokerPorts` field name)."""
        return next(x.address for x in self.listeners if x.role == role)

    @property
    def bootstrap(self) -> str:
        """PLAINTEXT (principal ANONYMOUS, a super user)."""
        return self.address("plaintext")

    @property
    def sasl_bootstrap(self) -> str:
        """SASL_PLAINTEXT: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 as :attr:`sasl_user`."""
        return self.address("sasl_plaintext")

    @property
    def ssl_bootstrap(self) -> str:
        """SSL, server authentication only (trust ``tls.ca_file``)."""
        return self.address("ssl")

    @property
    def sasl_ssl_bootstrap(self) -> str:
        """SASL_SSL: the SASL mechanisms over TLS."""
        return self.address("sasl_ssl")

    @property
    def mtls_bootstrap(self) -> str:
        """SSL that requires a client certificate signed by the CA (``tls.client_cert``)."""
        return self.address("mtls")

    @property
    def wrong_host_bootstrap(self) -> str:
        """SSL on 127.0.0.2, an address the broker certificate does not name."""
        return self.address("wrong_host")


class Broker(ListenerAddresses):
    """One broker, its listeners and its TLS material.

    Parameters
    ----------
    home
        The state directory (data, settings, log, TLS material).
    ports
        Listener ports; default :meth:`BrokerPorts.from_base` (9092).
    overrides
        ``server.properties`` settings that win over the defaults, e.g.
        ``{"auto.create.topics.enable": "false"}``.
    version
        The Kafka version from Maven Central.
    names
        Listener names.
    options
        How the JVM is run.
    log
        Receives progress lines (default: dropped).
    """

    def __init__(
        self,
        home: Path | str,
        ports: BrokerPorts | None = None,
        *,
        overrides: Mapping[str, str] | None = None,
        version: str = KAFKA_VERSION,
        names: ListenerNames = ListenerNames(),  # noqa: B008 - frozen, immutable
        options: RuntimeOptions = RuntimeOptions(),
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.paths = BrokerPaths(Path(home).resolve())
        self.ports = ports or BrokerPorts.from_base(9092)
        self.ports.validate()
        self.version = version
        self.options = options
        self.cache = options.cache or default_cache(version)
        super().__init__(helper_listeners(self.ports, names))
        self.tls = TlsMaterial(self.paths.tls)
        stores = TlsStores(keystore=self.tls.broker_keystore, truststore=self.tls.ca_file)
        self.settings = broker_settings(self.listeners, log_dirs=str(self.paths.data), tls=stores, overrides=overrides)
        self.last_start_secs: float | None = None
        self._log = log or (lambda _: None)

    # ------------------------------------------------------------------ status
    @property
    def status(self) -> BrokerStatus:
        """Whether this home's broker runs (checked against the live process)."""
        pid = self.paths.running_pid()
        if pid is None:
            return BrokerStatus(False, None, None)
        state = self.paths.read_state()
        addresses = {x.role: state[x.role] for x in self.listeners if x.role in state}
        return BrokerStatus(True, pid, state.get("bootstrap"), addresses)

    def logs(self, lines: int = 50) -> str:
        """The last ``lines`` lines of the broker log."""
        try:
            text = self.paths.log.read_bytes().decode("utf-8", "replace")
        except OSError:
            return f"(no broker log at {self.paths.log})"
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> bool:
        """Start the broker and wait until it serves; nothing to do if it already runs.

        Returns
        -------
        bool
            True if this call started it, False if it was already running.

        Raises
        ------
        BrokerError
            If a broker with other settings runs in this home, a port is taken, or the
            broker did not become ready (the message ends with the log's last lines).
        """
        with self._locked():
            pid = self.paths.running_pid()
            if pid is not None:
                if self.paths.read_state().get("settings_sha256") != self._settings_digest():
                    raise BrokerError(
                        f"a broker with other settings (ports or overrides) already runs in "
                        f"{self.paths.home} (pid {pid}); stop it first"
                    )
                self._log(f"already running (pid {pid})")
                return False
            self.paths.clear_runtime()
            launch.check_ports_free(self.listeners, self.paths.home, self._log)
            started = time.monotonic()
            jvm = self._prepare()
            pid = self._spawn(jvm)
            try:
                launch.wait_ready(
                    pid,
                    self.listeners,
                    self.bootstrap,
                    self.options.start_timeout_secs,
                    self._log if self.options.verbose else None,
                    self._failure_tail,
                )
            except BrokerError:
                self._abandon(pid)
                raise
            self.last_start_secs = time.monotonic() - started
            self._log(f"ready in {self.last_start_secs:.1f}s")
            return True

    def stop(self) -> None:
        """SIGTERM (Kafka's controlled shutdown), SIGKILL after the grace period."""
        with self._locked():
            self._end(hard=False)

    def kill(self) -> None:
        """SIGKILL at once: a crash. The next start recovers the logs."""
        with self._locked():
            self._end(hard=True)

    def restart(self) -> None:
        """Stop, then start; topics and offsets stay."""
        self.stop()
        self.start()

    def reset(self) -> None:
        """Stop and remove everything the helper made in ``home`` (data, settings, logs, TLS)."""
        with self._locked():
            self._end(hard=False)
            # Only what the helper creates: home may be any directory.
            for directory in (self.paths.data, self.paths.tmp, self.paths.tls):
                shutil.rmtree(directory, ignore_errors=True)
            for path in self.paths.generated_files():
                path.unlink(missing_ok=True)
        self._log(f"data wiped ({self.paths.home})")

    def deny_write(self, topic: str, principal: str = f"User:{SASL_USER}") -> None:
        """Make the broker refuse ``principal``'s produce requests to ``topic`` (a
        non-retriable TOPIC_AUTHORIZATION_FAILED); everyone keeps everything else.

        Parameters
        ----------
        topic
            The literal topic name.
        principal
            ``User:<name>``: SASL users are ``User:<username>``, the mTLS client is
            ``tls.client_principal``.
        """
        if self.paths.running_pid() is None:
            raise BrokerError(f"the broker of {self.paths.home} is not running")
        admin.deny_write(self.jvm(), self.bootstrap, topic, principal)

    def jvm(self) -> Jvm:
        """This broker's Java runtime and jars, to run Kafka's own tools against it
        (e.g. ``broker.jvm().run_tool("kafka.admin.ConfigCommand", [...])``)."""
        lib = ensure_jars(self.cache, self.version, self.options.mvn, self._log)
        return Jvm(self.options.java, lib, self.paths.tmp, self.paths.log4j, self.paths.home)

    # ------------------------------------------------------------------ internals
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.paths.home.mkdir(parents=True, exist_ok=True)
        with file_lock(self.paths.lock):
            yield

    def _settings_text(self) -> str:
        return render_properties(
            self.settings,
            [
                "Generated by devtools.kafka on every start; edits are overwritten.",
                "Use overrides (KAFKA_DEV_OVERRIDES) for other settings.",
            ],
        )

    def _settings_digest(self) -> str:
        return hashlib.sha256(self._settings_text().encode()).hexdigest()

    def _failure_tail(self) -> str:
        return f"--- last {LOG_TAIL_ON_FAILURE} lines of {self.paths.log} ---\n{self.logs(LOG_TAIL_ON_FAILURE)}"

    def _prepare(self) -> Jvm:
        if shutil.which(self.options.java) is None:
            raise BrokerError(
                f"`{self.options.java}` not found; install Java 17 or newer (Debian: apt-get install "
                "openjdk-17-jre-headless) or set JAVA_HOME"
            )
        jvm = self.jvm()
        ensure_tls_material(self.paths.tls, self.options.openssl)
        self.paths.tmp.mkdir(parents=True, exist_ok=True)
        _write_if_changed(self.paths.properties, self._settings_text())
        _write_if_changed(self.paths.log4j, LOG4J2_PROPERTIES)
        # Keep the previous run's log (e.g. the one that was killed) for post-mortems.
        if self.paths.log.exists():
            os.replace(self.paths.log, self.paths.previous_log)
        ensure_formatted(jvm, self.paths, self._log)
        return jvm

    def _spawn(self, jvm: Jvm) -> int:
        cds = cds_flags(jvm, self.cache, self.paths.cds_pending) if self.options.cds else []
        # A JVM crash report goes to the working directory by default; keep it in home.
        command = [
            *jvm.base_command(),
            *self.options.heap_opts,
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-XX:ErrorFile={self.paths.home}/hs_err_pid%p.log",
            *cds,
            *self.options.jvm_opts,
            "kafka.Kafka",
            str(self.paths.properties),
        ]
        pid = launch.spawn(command, self.paths.log)
        self.paths.pid.write_text(f"{pid}\n")
        state = {
            "pid": str(pid),
            "bootstrap": self.bootstrap,
            "settings_sha256": self._settings_digest(),
            **{x.role: x.address for x in self.listeners},
        }
        self.paths.state.write_text(json.dumps(state, indent=1) + "\n")
        self._log(
            f"started java pid {pid}, waiting for {self.bootstrap} (timeout {self.options.start_timeout_secs:.0f}s)"
        )
        return pid

    def _abandon(self, pid: int) -> None:
        # A failed start leaves no half-started broker behind.
        launch.end(pid, hard=True, grace_secs=0, log=self._log)
        reap_if_spawned(pid)
        cds_finish(self.paths.cds_pending, clean_exit=False)
        self.paths.clear_runtime()

    def _end(self, hard: bool) -> None:
        pid = self.paths.running_pid()
        if pid is None:
            cds_finish(self.paths.cds_pending, clean_exit=False)
            self.paths.clear_runtime()
            self._log("not running")
            return
        if not launch.end(pid, hard, self.options.stop_timeout_secs, self._log):
            raise BrokerError(f"pid {pid} did not exit")
        reap_if_spawned(pid)  # if we started it: collect its exit status
        archive = cds_finish(self.paths.cds_pending, clean_exit=not hard)
        if archive:
            self._log(f"saved a class-data archive for faster starts: {archive}")
        self.paths.clear_runtime()
        self._log("killed" if hard else "stopped")


def _write_if_changed(path: Path, text: str) -> None:
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
