"""The container image: the Dockerfile holds to deploy/container/build-steps.sh (the
steps CI runs without Docker), and the image's health check finds the right endpoint.

CI runs the build steps themselves (`make image-steps`); these tests keep the
Dockerfile from drifting away from them.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from devtools.net import free_port
from pipeline import __version__
from pipeline.config import MetricsServer, WebhookSource

from .conftest import ROOT

DOCKERFILE = ROOT / "Dockerfile"
STEPS = ROOT / "deploy" / "container" / "build-steps.sh"
SCRIPT_IN_IMAGE = "/build/build-steps.sh"
# The phases the Dockerfile runs, in order; CI's `ci` phase runs the same ones
# (toolchain aside: CI has gcc) after copying the build context.
IMAGE_PHASES = ["toolchain", "wheel", "install", "smoke"]
CI_PHASES = ["context", "wheel", "install", "smoke"]


def instructions(text: str) -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):  # a comment inside a continued instruction
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = (pending + stripped).strip()
        pending = ""
        word, _, rest = whole.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def stages(parsed: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """Instructions by stage name (``FROM … AS name``)."""
    named: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for word, rest in parsed:
        if word == "FROM":
            name = rest.split()[-1]
            current = named.setdefault(name, [])
        elif current is not None:
            current.append((word, rest))
    return named


def run_command(rest: str) -> list[str]:
    """A RUN line's command, without its ``--mount`` flags."""
    words = shlex.split(rest)
    while words and words[0].startswith("--"):
        words.pop(0)
    return words


PARSED = instructions(DOCKERFILE.read_text())
STAGES = stages(PARSED)


def test_every_run_line_is_a_build_steps_phase_in_order() -> None:
    runs = [run_command(rest) for word, rest in PARSED if word == "RUN"]
    assert runs, "no RUN lines"
    for words in runs:
        assert words[0] == SCRIPT_IN_IMAGE, f"a RUN line that is not {SCRIPT_IN_IMAGE}: {words}"
    assert [w[1] for w in runs] == IMAGE_PHASES


def test_the_script_is_what_the_image_mounts_or_copies() -> None:
    copies = [rest.split() for word, rest in STAGES["build"] if word == "COPY"]
    assert copies[0] == ["deploy/container/build-steps.sh", SCRIPT_IN_IMAGE]
    runtime_runs = [rest for word, rest in STAGES["runtime"] if word == "RUN"]
    for rest in runtime_runs:
        assert "--mount=type=bind,source=deploy/container,target=/build" in rest


def test_ci_runs_the_same_phases_as_the_image() -> None:
    body = re.search(r"^phase_ci\(\) \{\n(.*?)^\}", STEPS.read_text(), re.S | re.M)
    assert body is not None
    called = re.findall(r"^\s+phase_(\w+) ", body.group(1), re.M)
    assert called == CI_PHASES
    assert [p for p in IMAGE_PHASES if p != "toolchain"] == [p for p in CI_PHASES if p != "context"]


def test_install_and_smoke_use_the_same_prefix_as_path_and_healthcheck() -> None:
    runtime = STAGES["runtime"]
    runs = [run_command(rest) for word, rest in runtime if word == "RUN"]
    install = next(w for w in runs if w[1] == "install")
    smoke = next(w for w in runs if w[1] == "smoke")
    prefix = install[3]
    assert smoke[2] == prefix and smoke[3] == "${VERSION}"
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    assert f"PATH={prefix}/bin:$PATH" in env
    health = next(rest for word, rest in runtime if word == "HEALTHCHECK")
    assert health.endswith(f'CMD ["{prefix}/bin/auditpipe-healthcheck"]')


def test_runtime_runs_as_a_numeric_non_root_user_before_the_smoke_test() -> None:
    words = [w for w, _ in STAGES["runtime"]]
    user = next(rest for word, rest in STAGES["runtime"] if word == "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0
    runs = [i for i, (word, rest) in enumerate(STAGES["runtime"]) if word == "RUN"]
    install, smoke = runs
    assert install < words.index("USER") < smoke
    # The Deployment runs the same user.
    deployment = (ROOT / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text()
    assert f"runAsUser: {uid}" in deployment and f"runAsGroup: {gid}" in deployment


def test_runtime_environment_writes_nothing_and_declares_tmp() -> None:
    runtime = STAGES["runtime"]
    env = " ".join(rest for word, rest in runtime if word == "ENV")
    for setting in ("PYTHONDONTWRITEBYTECODE=1", "PIP_NO_CACHE_DIR=1", "HOME=/nonexistent"):
        assert setting in env
    assert ("VOLUME", '["/tmp"]') in runtime


def test_build_and_runtime_share_the_base_image() -> None:
    froms = [rest.split()[0] for word, rest in PARSED if word == "FROM"]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    arg = next(rest for word, rest in PARSED if word == "ARG" and rest.startswith("PYTHON_IMAGE="))
    assert arg.startswith("PYTHON_IMAGE=python:3.11-")


def test_labels_licence_and_ports_match_the_project() -> None:
    runtime = STAGES["runtime"]
    label = next(rest for word, rest in runtime if word == "LABEL")
    labels = dict(re.findall(r'(org\.opencontainers\.image\.\w+)="([^"]*)"', label))
    license_ = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert labels["org.opencontainers.image.licenses"] == license_
    assert labels["org.opencontainers.image.version"] == "${VERSION}"
    assert labels["org.opencontainers.image.source"] == "${SOURCE}"
    exposed = next(rest for word, rest in runtime if word == "EXPOSE").split()
    assert exposed == [str(WebhookSource().port), str(MetricsServer().port)]
    assert next(rest for word, rest in runtime if word == "CMD") == '["run"]'


def test_dockerignore_lets_in_what_the_wheel_is_built_from() -> None:
    allowed = re.findall(r"^!(\S+)$", (ROOT / ".dockerignore").read_text(), re.M)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = project["tool"]["setuptools"]["packages"]["find"]["include"]
    needed = {"pyproject.toml", "setup.py", project["project"]["readme"], "deploy/container"}
    needed |= {p.split(".")[0] for p in packages}
    assert needed <= set(allowed), f"missing from .dockerignore's allowlist: {sorted(needed - set(allowed))}"


def test_context_phase_copies_the_allowlisted_tracked_files(tmp_path: Path) -> None:
    subprocess.run([str(STEPS), "context", str(ROOT), str(tmp_path / "ctx")], check=True)
    copied = {p.relative_to(tmp_path / "ctx").as_posix() for p in (tmp_path / "ctx").rglob("*") if p.is_file()}
    assert {"pyproject.toml", "setup.py", "_fastmatch/_matcher_c.pyx", "deploy/container/healthcheck.py"} <= copied
    assert not any(p.startswith(("tests/", "bench/", ".git/")) or p.endswith((".so", ".pyc")) for p in copied)


def test_smoke_refuses_a_build_without_a_version() -> None:
    done = subprocess.run([str(STEPS), "smoke", "/nonexistent", ""], capture_output=True, text=True)
    assert done.returncode == 1 and "--build-arg VERSION" in done.stderr


# ---- the health check -------------------------------------------------------


def _healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "deploy" / "container" / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hc = _healthcheck()

KAFKA_CONFIG = """
kafka: {bootstrap_servers: "127.0.0.1:1"}
sources: [{type: kafka, topics: [audit]}]
default_output: {name: out, type: kafka, topic: audit.out}
metrics: {host: "%s", port: %d, enabled: %s}
"""


def _config(tmp_path: Path, host: str = "0.0.0.0", port: int = 9464, enabled: str = "true") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(KAFKA_CONFIG % (host, port, enabled))
    return path


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:9464/healthz"),
        ("::", "http://[::1]:9464/healthz"),
        ("10.1.2.3", "http://10.1.2.3:9464/healthz"),
    ],
)
def test_health_url_from_the_config_of_auditpipe_run(tmp_path: Path, host: str, url: str) -> None:
    config = _config(tmp_path, host)
    argv = ["/opt/auditpipe/bin/python", "/opt/auditpipe/bin/auditpipe", "run", "--config", config.name]
    assert hc.health_url(argv, tmp_path, {}) == url


@pytest.mark.parametrize(
    ("argv", "because"),
    [
        (["auditpipe", "run"], "bundled sample"),
        (["auditpipe", "filter", "--policy", "p.yaml"], "not `auditpipe run`"),
        (["auditpipe", "run", "--config", "files.yaml"], "reads files once"),
        (["auditpipe", "run", "--config", "nometrics.yaml"], "metrics.enabled: false"),
    ],
)
def test_commands_without_an_endpoint_are_healthy_while_they_run(tmp_path: Path, argv: list[str], because: str) -> None:
    (tmp_path / "files.yaml").write_text("sources: [{type: file, paths: [a.jsonl]}]\n")
    _config(tmp_path, enabled="false").rename(tmp_path / "nometrics.yaml")
    with pytest.raises(hc.NoEndpoint, match=re.escape(because)):
        hc.health_url(argv, tmp_path, {})


def test_the_environment_given_is_the_one_interpolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.yaml").write_text((KAFKA_CONFIG % ("0.0.0.0", 1, "true")).replace("port: 1", 'port: "${PORT}"'))
    argv = ["auditpipe", "run", "--config", "c.yaml"]
    assert hc.health_url(argv, tmp_path, {"PORT": "9999"}) == "http://127.0.0.1:9999/healthz"
    monkeypatch.delenv("PORT", raising=False)
    code, line = hc.check(["run", "--config", str(tmp_path / "c.yaml")])
    assert code == hc.UNHEALTHY and "PORT is not set" in line


def test_override_url_and_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITPIPE_HEALTHCHECK_URL", "off")
    assert hc.check([])[0] == hc.HEALTHY
    monkeypatch.setenv("AUDITPIPE_HEALTHCHECK_URL", "http://127.0.0.1:1/healthz")
    code, line = hc.check([])
    assert code == hc.UNHEALTHY and "127.0.0.1:1" in line


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_probe_healthy_on_2xx_unhealthy_otherwise(http_server: HTTPServer) -> None:
    url = f"http://127.0.0.1:{http_server.server_address[1]}/healthz"
    assert hc.probe(url)[0] == hc.HEALTHY
    _Answer.status = 503
    try:
        code, line = hc.probe(url)
    finally:
        _Answer.status = 200
    assert code == hc.UNHEALTHY and line.endswith("503")


@pytest.fixture
def service_unreachable_kafka(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int]]:
    """``auditpipe run`` with a Kafka source whose broker refuses connections; its metrics port."""
    port = free_port()
    config = _config(tmp_path, "127.0.0.1", port)
    config.write_text(config.read_text().replace('"127.0.0.1:1"}', '"127.0.0.1:1", startup_deadline_secs: 60}'))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            code, line = hc.check(["run", "--config", str(config)])
            if code == hc.HEALTHY or time.monotonic() > deadline or proc.poll() is not None:
                break
            time.sleep(0.2)
        assert code == hc.HEALTHY, line
        yield proc, config, port
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_against_the_real_service_while_kafka_is_unreachable(
    service_unreachable_kafka: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    """The service answers /healthz from before Kafka is reached (liveness holds) and
    /readyz 503 (readiness does not); the health check reads its port from the config."""
    proc, config, port = service_unreachable_kafka
    base = f"http://127.0.0.1:{port}"
    assert hc.check(["run", "--config", str(config)]) == (hc.HEALTHY, f"{base}/healthz: 200")
    with pytest.raises(urllib.error.HTTPError) as ready:
        urllib.request.urlopen(f"{base}/readyz", timeout=3)
    ready.value.close()
    assert ready.value.code == 503
    proc.kill()
    proc.wait(timeout=30)
    code, _ = hc.check(["run", "--config", str(config)])
    assert code == hc.UNHEALTHY  # nothing answers any more


def test_sigterm_while_kafka_is_unreachable_stops_promptly(
    service_unreachable_kafka: tuple[subprocess.Popen[bytes], Path, int],
) -> None:
    proc, _, _ = service_unreachable_kafka
    proc.terminate()
    try:
        code = proc.wait(timeout=5)  # far below the 60 s start-up deadline
    except subprocess.TimeoutExpired:
        pytest.fail("still running 5 s after SIGTERM")
    assert code == 0  # a stop asked for, and done


def test_version_used_by_the_image_is_the_package_version() -> None:
    match = re.search(r'^__version__ = "(.*)"$', (ROOT / "pipeline" / "__init__.py").read_text(), re.M)
    assert match is not None and match.group(1) == __version__  # what `ci` and `make image` pass as VERSION
