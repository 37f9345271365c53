"""Launching and ending the broker's JVM: free ports, spawning, readiness, signals."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .. import net
from . import admin
from .errors import BrokerError
from .process import note_spawned, pid_alive, reap_if_spawned, wait_gone
from .settings import Listener

Log = Callable[[str], None]


def check_ports_free(listeners: Sequence[Listener], home: Path, log: Log) -> None:
    """Raise :class:`BrokerError` if another program listens on a listener's address.

    Otherwise the readiness check could happily talk to some other broker.
    """
    for listener in listeners:
        if net.port_in_use(listener.port, listener.bind_host):
            raise BrokerError(
                f"{listener.bind_host}:{listener.port} ({listener.name}) is already in use by "
                f"another program, not the broker of {home}"
            )
    # Clients that keep reconnecting while the broker is down can self-connect to a port inside
    # the ephemeral range and keep the broker from binding it again (see net.probe_connect).
    ephemeral = net.ephemeral_port_range()
    if ephemeral:
        inside = [x.port for x in listeners if ephemeral[0] <= x.port <= ephemeral[1]]
        if inside:
            log(
                f"warning: ports {inside} are inside the ephemeral port range {ephemeral[0]}-{ephemeral[1]}; "
                "restarts can fail with 'Address already in use'"
            )


def spawn(command: Sequence[str], log_file: Path) -> int:
    """Start the JVM in its own session with its output appended to ``log_file``.

    Own session: the broker survives its starter and the caller's terminal, and a Ctrl-C
    there does not reach it. Output goes to a file, never to a pipe nobody reads (the JVM
    would block once it fills). ``posix_spawn`` rather than ``subprocess.Popen``: the broker
    outlives the object that started it, and a Popen object dropped while its process runs
    warns (ResourceWarning), which the test suite treats as an error. The pid is all the
    helper needs; :func:`exit_code` and ``process.reap_if_spawned`` collect the exit status.

    Returns
    -------
    int
        The JVM's pid.
    """
    with open(log_file, "ab") as out:
        out.write(f"[devtools.kafka {time.strftime('%Y-%m-%d %H:%M:%S')}] {' '.join(command)}\n".encode())
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log_file), os.O_WRONLY | os.O_APPEND, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    # Only 0-2 are inherited: Python opens every other descriptor close-on-exec.
    pid = os.posix_spawnp(command[0], list(command), dict(os.environ), file_actions=actions, setsid=True)
    note_spawned(pid)
    return pid


def exit_code(pid: int) -> int | None:
    """None while the broker ``pid`` runs, else its exit code (-1 if another process
    started it, so that the code is not ours to collect)."""
    code = reap_if_spawned(pid)
    if code is not None:
        return code
    return None if pid_alive(pid) else -1


def not_ready_reason(listeners: Sequence[Listener], bootstrap: str) -> str | None:
    """One readiness check of a started broker: None when it serves, else why not."""
    # A plain TCP connect first: Kafka opens its client ports only once the broker is
    # unfenced, and this costs nothing, while a client would retry and log on its own.
    for listener in listeners:
        try:
            net.probe_connect(listener.port, 1.0, listener.bind_host).close()
        except OSError as exc:
            return f"{listener.name} not listening yet ({type(exc).__name__})"
    return admin.run_sync(lambda: admin.serving(bootstrap))


def wait_ready(
    pid: int,
    listeners: Sequence[Listener],
    bootstrap: str,
    timeout_secs: float,
    log_step: Log | None,
    log_tail: Callable[[], str],
) -> None:
    """Poll until the broker serves.

    Parameters
    ----------
    pid
        The broker's JVM.
    listeners
        Its listeners (each must accept connections).
    bootstrap
        Its PLAINTEXT address (for the client check).
    timeout_secs
        How long to wait.
    log_step
        Receives each new reason for not being ready yet, if given.
    log_tail
        The end of the broker log, for the error message.

    Raises
    ------
    BrokerError
        If the JVM exits or the timeout passes first.
    """
    started = time.monotonic()
    last_reason = ""
    while True:
        code = exit_code(pid)
        reason = f"the broker exited with code {code}" if code is not None else not_ready_reason(listeners, bootstrap)
        if reason is None:
            return
        if log_step is not None and reason != last_reason:
            log_step(f"{time.monotonic() - started:5.1f}s {reason}")
            last_reason = reason
        if code is not None or time.monotonic() - started > timeout_secs:
            raise BrokerError(f"start failed: {reason}\n{log_tail()}")
        time.sleep(0.25)


def end(pid: int, hard: bool, grace_secs: float, log: Log) -> bool:
    """SIGKILL ``pid``, or SIGTERM it and SIGKILL after ``grace_secs``; True once it is gone."""
    if hard:
        log(f"SIGKILL pid {pid}")
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        return wait_gone(pid, 10)
    # SIGTERM runs Kafka's shutdown hook: controlled shutdown of the broker, then the
    # controller, logs flushed; the next start needs no log recovery.
    log(f"SIGTERM pid {pid}")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_gone(pid, grace_secs):
        return True
    log(f"still alive after {grace_secs:.0f}s, SIGKILL")
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return wait_gone(pid, 10)
