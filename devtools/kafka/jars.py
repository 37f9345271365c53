"""The broker's jars: ``devtools/kafka/pom.xml`` resolved from Maven Central with the
machine's ``mvn`` into a per-version cache, once."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import KafkaDevError
from .process import file_lock

POM = Path(__file__).resolve().with_name("pom.xml")
# Pinning the plugin version avoids a plugin-metadata lookup on every resolve.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
COMPLETE_MARKER = ".complete"


class JarsError(KafkaDevError):
    """Maven is missing or could not resolve the broker's jars."""


def default_cache(version: str) -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/auditpipe/kafka-<version>``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(xdg) / "auditpipe" / f"kafka-{version}"


def lib_dir(cache: Path) -> Path:
    """Where this pom's jars go inside ``cache``.

    Keyed by the pom's content: a changed pom (say, one more artifact) gets a fresh
    directory instead of replacing one that a running broker may still load classes from.
    """
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return cache / f"lib-{digest}"


def ensure_jars(
    cache: Path, version: str, mvn: Sequence[str] = ("mvn",), log: Callable[[str], None] = lambda _: None
) -> Path:
    """Resolve the broker's runtime jars once; later calls only check a marker file.

    The jars are copied into a temporary sibling directory and renamed into place only
    after mvn succeeded, with a marker written last, so an interrupted download is never
    mistaken for a complete one.

    Parameters
    ----------
    cache
        The per-version cache directory.
    version
        The Kafka version (``-Dkafka.version``).
    mvn
        The Maven command.
    log
        Receives progress lines.

    Returns
    -------
    Path
        The directory holding the jars (for ``java -cp '<dir>/*'``).
    """
    lib = lib_dir(cache)
    if (lib / COMPLETE_MARKER).exists():
        return lib
    cache.mkdir(parents=True, exist_ok=True)
    with file_lock(cache / ".lock"):
        if (lib / COMPLETE_MARKER).exists():  # another process finished while we waited
            return lib
        if shutil.which(mvn[0]) is None:
            raise JarsError(f"`{mvn[0]}` not found; install Maven (Debian: apt-get install maven)")
        log(f"resolving org.apache.kafka:kafka_2.13:{version} from Maven into {lib}")
        started = time.monotonic()
        staging = Path(tempfile.mkdtemp(prefix="lib.", dir=cache))
        try:
            _resolve(staging, version, mvn)
            jars = [p.name for p in staging.glob("*.jar")]
            if not any(name.startswith("kafka_2.13-") for name in jars):
                raise JarsError(f"mvn finished but the kafka_2.13 jar is missing from {staging}")
            (staging / COMPLETE_MARKER).write_text(f"{len(jars)} jars\n")
            if lib.is_dir():  # an incomplete leftover of an interrupted run
                shutil.rmtree(lib)
            staging.rename(lib)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        log(f"resolved {len(jars)} jars in {time.monotonic() - started:.1f}s")
    return lib


def _resolve(target: Path, version: str, mvn: Sequence[str]) -> None:
    command = [
        *mvn,
        "-B",
        "-q",
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        "-DincludeScope=runtime",
        f"-DoutputDirectory={target}",
    ]
    # Offline first: with a warm ~/.m2 this needs no network at all.
    if subprocess.run([*command, "-o"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        return
    for leftover in target.iterdir():
        leftover.unlink()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise JarsError(f"mvn could not resolve the Kafka jars:\n{result.stdout[-4000:]}")
