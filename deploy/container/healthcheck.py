#!/usr/bin/env python3
"""The container image's HEALTHCHECK: is the auditpipe in this container alive?

Docker runs this inside the container every interval (Kubernetes ignores it and
uses the Deployment's probes). It asks the service's own ``/healthz`` when the
running command serves one, and otherwise has nothing to ask:

* ``AUDITPIPE_HEALTHCHECK_URL`` set: GET that URL (empty or ``off``: always healthy).
* Otherwise the command is read from PID 1 (``/proc/1/cmdline``, its working
  directory and environment), or from this script's arguments when given
  (``auditpipe-healthcheck run --config FILE``, for tests). For ``auditpipe run
  --config FILE`` whose config has a long-running source (Kafka, webhook, log)
  and ``metrics.enabled``, the URL is ``http://<metrics.host>:<metrics.port>/healthz``
  (``0.0.0.0`` and ``::`` are asked on loopback).
* Anything else (the default ``auditpipe run`` on the bundled sample, ``filter``,
  a file-only config, metrics disabled) serves no endpoint: it is a one-shot run
  whose exit status is its health, so the check succeeds while it runs.

Exit status 0 healthy, 1 unhealthy (Docker's convention); one line on stdout
says why, and Docker keeps it in ``docker inspect``'s health log.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

HEALTHY, UNHEALTHY = 0, 1
TIMEOUT_SECS = 3.0
PROC1 = Path("/proc/1")


class NoEndpoint(Exception):
    """The command serves no health endpoint (said why)."""


def _run_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The options of ``auditpipe run`` in a command line (the interpreter and script may come first)."""
    if "run" not in argv:
        raise NoEndpoint(f"not `auditpipe run` ({' '.join(argv) or 'no command'})")
    rest = list(argv[list(argv).index("run") + 1 :])
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config")
    known, _ = parser.parse_known_args(rest)
    return known


def health_url(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> str:
    """The URL of the ``/healthz`` the command ``argv`` serves.

    Raises
    ------
    NoEndpoint
        When that command serves none (a one-shot run, metrics disabled).
    pipeline.errors.ConfigError
        When its config cannot be loaded with ``env``.
    """
    args = _run_arguments(argv)
    if args.config is None:
        raise NoEndpoint("`auditpipe run` without --config reads the bundled sample once")
    from pipeline.config import FileSource, load

    config = load(cwd / args.config, env=env)
    if all(isinstance(s, FileSource) for s in config.sources):
        raise NoEndpoint(f"{args.config} reads files once (no long-running source)")
    if not config.metrics.enabled:
        raise NoEndpoint(f"{args.config} has metrics.enabled: false")
    host = config.metrics.host
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{config.metrics.port}/healthz"


def _pid1() -> tuple[list[str], Path, dict[str, str]]:
    """PID 1's command line, working directory and environment."""
    argv = [a.decode("utf-8", "replace") for a in (PROC1 / "cmdline").read_bytes().split(b"\0") if a]
    env: dict[str, str] = {}
    for item in (PROC1 / "environ").read_bytes().split(b"\0"):
        name, sep, value = item.decode("utf-8", "replace").partition("=")
        if sep:
            env[name] = value
    return argv, PROC1 / "cwd", env


def probe(url: str) -> tuple[int, str]:
    """GET ``url``: healthy on a 2xx answer."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECS) as response:
            return HEALTHY, f"{url}: {response.status}"
    except urllib.error.HTTPError as exc:
        exc.close()
        return UNHEALTHY, f"{url}: {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return UNHEALTHY, f"{url}: {reason}"


def check(argv: Sequence[str]) -> tuple[int, str]:
    """The exit status and the line to print, for this script's arguments ``argv``."""
    override = os.environ.get("AUDITPIPE_HEALTHCHECK_URL")
    if override is not None:
        if override.strip() in ("", "off"):
            return HEALTHY, "health check off (AUDITPIPE_HEALTHCHECK_URL)"
        return probe(override)
    try:
        command, cwd, env = (list(argv), Path.cwd(), dict(os.environ)) if argv else _pid1()
    except OSError as exc:
        return UNHEALTHY, f"cannot read the container's command: {exc}"
    from pipeline.errors import ConfigError

    try:
        url = health_url(command, cwd, env)
    except NoEndpoint as exc:
        return HEALTHY, f"nothing to probe: {exc}"
    except ConfigError as exc:
        return UNHEALTHY, f"cannot load the config to find the metrics port: {exc}"
    return probe(url)


def main(argv: Sequence[str] | None = None) -> int:
    code, line = check(sys.argv[1:] if argv is None else argv)
    print(line, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
