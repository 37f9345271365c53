"""What every command shares: exit codes, messages, standard streams, and
running a pipeline to its end under signals."""

from __future__ import annotations

import os
import signal
import sys

from .. import policy as policy_mod
from ..sources.lines import default_policy_text

EXIT_OK = 0
EXIT_REJECTED = 1  # some input records were rejected, or an input could not be read to its end
EXIT_USAGE = 2  # usage, policy or config error; an output that cannot be written
EXIT_UNREACHABLE = 3  # a required service (Kafka) was not reachable within the start-up deadline
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130, as for any program stopped by Ctrl-C
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143: an offline run stopped before its input ended
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141: the reader went away, as for other filters

EXIT_CODES_HELP = """exit codes:
  0    ok
  1    some input records were rejected, or an input could not be read to its end
  2    usage, policy or config error, or an output could not be written
  3    Kafka not reachable within startup_deadline_secs
  130  interrupted (Ctrl-C); 141: the reader of the output went away (broken pipe)"""


def err(message: str) -> None:
    """One line on stderr (which may be closed: then nothing)."""
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def guard_standard_streams() -> None:
    """Keep descriptors 0-2 taken even when the caller closed them.

    A closed stdout (``>&-``) leaves ``sys.stdout`` None; if descriptor 1
    stayed free, the next file opened (a rejects file) would get it, and
    anything meant for stdout would land there. So each closed descriptor is
    pointed at /dev/null, ``sys.stdout`` stays None (the file sink then says
    that standard output is closed), and a closed stderr becomes /dev/null.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def silence_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's
    final flush cannot fail with a second BrokenPipeError."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, AttributeError, ValueError):
        pass


def load_policy(path: str | None, lenient: bool) -> policy_mod.LoadedPolicy:
    """The policy at ``path``, or the bundled default; warnings go to stderr."""
    if path is None:
        loaded = policy_mod.loads(default_policy_text(), source="<bundled default policy>")
    else:
        loaded = policy_mod.load(path, lenient=lenient)
    for issue in loaded.warnings:
        err(f"warning: {issue.render(loaded.source)} (ignored, as kube-apiserver would)")
    return loaded


def stop_code(signum: int | None) -> int | None:
    """The exit code of a run stopped by ``signum`` (None: not stopped by a signal)."""
    if signum is None:
        return None
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED
