"""The ``apiserver_replay`` fixture: kube-apiserver's own audit backends
(tests/apiserver, built with ``go build``) for the tests that need the real sender.

Built once per session into a cache folder (``$XDG_CACHE_HOME/auditpipe`` or
``~/.cache/auditpipe``); Go's build cache makes a rebuild take seconds. Without
Go the tests that use it are skipped with a message, except under CI=true,
where that is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_SECS = 900  # a cold build fetches ~290 MB of modules


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "auditpipe"


@pytest.fixture(scope="session")
def apiserver_replay() -> Path:
    """The path of a freshly built ``apiserver-replay`` binary."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must run the apiserver tests, but `go` is not on PATH")
        pytest.skip("needs Go (https://go.dev/dl/) to build tests/apiserver (kube-apiserver's audit backends)")
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / "apiserver-replay"
    # Build next to the target and rename: sessions running at once never see a half-written binary.
    fd, temp = tempfile.mkstemp(prefix=".apiserver-replay-", dir=cache)
    os.close(fd)
    try:
        proc = subprocess.run(
            [go, "build", "-o", temp, "./tests/apiserver"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECS,
        )
        if proc.returncode != 0:
            pytest.fail(f"go build ./tests/apiserver failed:\n{proc.stderr}")
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return target
