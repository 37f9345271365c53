"""Go programs the tests run: kube-apiserver's own audit backends
(tests/apiserver, ``apiserver-replay``) and Go's own ``time.Parse``.

Built with the machine's ``go`` into a cache folder keyed by a hash of their
sources, so a session builds once and later sessions reuse the binary. Without
Go the tests that need it skip with a message, except under CI (CI=true),
where they fail.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

from .conftest import ROOT

REPLAY_SOURCES = ROOT / "tests" / "apiserver"

TIME_PARSE_GO = """package main

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

// Reads one string per line; prints "ok" or "err" for time.Parse(time.RFC3339Nano, line).
func main() {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if _, err := time.Parse(time.RFC3339Nano, in.Text()); err != nil {
			fmt.Println("err")
		} else {
			fmt.Println("ok")
		}
	}
}
"""


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI must run the Go-backed tests, but: {reason}")
    pytest.skip(reason)


def go_command() -> str:
    """The ``go`` command, or skip (fail under CI)."""
    go = shutil.which("go")
    if go is None:
        _unavailable("Go is not installed: the tests that drive kube-apiserver's own code need it (go.dev/dl)")
    return go


def _digest(paths: list[Path], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for path in sorted(paths):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _build(go: str, package_dir: Path, output: Path, cwd: Path) -> None:
    staging = output.with_name(f".{output.name}.{os.getpid()}")
    result = subprocess.run(
        [go, "build", "-o", str(staging), "."],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        pytest.fail(f"go build in {package_dir} failed:\n{result.stderr[-3000:]}")
    os.replace(staging, output)  # atomic: a parallel session sees the old binary or the new one


def build_apiserver_replay(cache: Path) -> Path:
    """``apiserver-replay``, built from tests/apiserver unless the cache has this version."""
    go = go_command()
    sources = [*REPLAY_SOURCES.glob("*.go"), REPLAY_SOURCES / "go.mod", REPLAY_SOURCES / "go.sum"]
    binary = cache / f"apiserver-replay-{_digest(sources)}"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        _build(go, REPLAY_SOURCES, binary, REPLAY_SOURCES)
    return binary


def build_time_parse(cache: Path) -> Path:
    """A program answering Go's ``time.Parse(time.RFC3339Nano, line)`` for each line of stdin."""
    go = go_command()
    binary = cache / f"time-parse-{hashlib.sha256(TIME_PARSE_GO.encode()).hexdigest()[:16]}"
    if not binary.exists():
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp)
            (source / "go.mod").write_text("module timeparse\n\ngo 1.21\n")
            (source / "main.go").write_text(TIME_PARSE_GO)
            cache.mkdir(parents=True, exist_ok=True)
            _build(go, source, binary, source)
    return binary


def cache_dir(config: pytest.Config) -> Path:
    """pytest's cache folder when the cache plugin is on, else one in the temp folder."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("go-programs"))
    return Path(tempfile.gettempdir()) / f"auditpipe-go-programs-{os.getuid()}"
