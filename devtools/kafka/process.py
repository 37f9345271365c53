"""The broker process: is a recorded pid still our broker, waiting for it to go, and a
lock so that concurrent callers (the CLI, parallel test sessions) take turns."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pid_alive(pid: int) -> bool:
    """True while any thread of process ``pid`` is still running.

    kill(pid, 0) is not enough: a broker whose starter exited is re-parented, and if the
    new parent reaps late (PID 1 in a container often does), a dead broker lingers as a
    zombie. Looking at the main thread alone is not enough either: after SIGKILL the JVM's
    main thread can be a zombie while other threads are still exiting -- and the listening
    sockets close only when the last thread is gone, so a new broker could not bind yet.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    task_dir = Path(f"/proc/{pid}/task")
    try:
        tasks = list(task_dir.iterdir())
    except OSError:
        return Path(f"/proc/{pid}").exists() or not Path("/proc").is_dir()
    for task in tasks:
        try:
            # Field 3 is the state; field 2 (comm) may contain spaces and ')'.
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue  # that thread just went away
        if state not in ("Z", "X"):
            return True
    return False


def is_broker_process(pid: int, properties: Path) -> bool:
    """True if ``pid`` is a live ``kafka.Kafka`` JVM started with ``properties``.

    Guards against pid reuse after a reboot or a crash: only such a process is ever signalled.
    """
    if not pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc (not Linux): trust the pid file
    return b"kafka.Kafka" in argv and str(properties).encode() in argv


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to exit; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return not pid_alive(pid)


# The brokers this process spawned (launch.spawn): only their exit status is ever collected
# here, so that a waitpid can never take the status of a child some other code waits for.
_spawned: set[int] = set()


def note_spawned(pid: int) -> None:
    """Remember that this process started ``pid``."""
    _spawned.add(pid)


def reap_if_spawned(pid: int) -> int | None:
    """Collect the exit status of a broker this process spawned, if it has exited.

    Returns
    -------
    int or None
        Its exit code, or None if it still runs or is not ours (or was collected before).
    """
    if pid not in _spawned:
        return None
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        _spawned.discard(pid)
        return None
    if not done:
        return None
    _spawned.discard(pid)
    return os.waitstatus_to_exitcode(status)
