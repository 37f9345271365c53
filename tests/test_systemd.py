"""The systemd unit (deploy/systemd): systemd's own verifier accepts it, and it agrees
with the config and environment file shipped next to it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli.common import EXIT_UNREACHABLE, EXIT_USAGE
from pipeline.config import DeadLetterFile, FileOutput, load

from .conftest import ROOT

SYSTEMD = ROOT / "deploy" / "systemd"
UNIT = SYSTEMD / "auditpipe.service"
INSTALLED_CONFIG_DIR = "/etc/auditpipe"


def unit_options(text: str) -> dict[str, dict[str, list[str]]]:
    """``[Section]`` -> key -> every value it is given (systemd keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        assert current is not None, f"an option outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"not key=value: {line}"
        current.setdefault(key, []).append(value)
    return sections


UNIT_OPTIONS = unit_options(UNIT.read_text())
SERVICE = {key: values[-1] for key, values in UNIT_OPTIONS["Service"].items()}


def env_file() -> dict[str, str]:
    values = {}
    for line in (SYSTEMD / "auditpipe.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is needed to verify the unit and CI=true (apt-get install systemd)")
        pytest.skip("systemd-analyze is not installed: the unit's options are still checked below")
    return subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)


def _installed_copy(tmp_path: Path, text: str) -> Path:
    # verify checks that ExecStart's program exists: point it at this checkout's auditpipe.
    program = Path(sys.prefix) / "bin" / "auditpipe"
    assert program.exists()
    unit = tmp_path / "auditpipe.service"
    unit.write_text(text.replace("/opt/auditpipe/bin/auditpipe", str(program)))
    return unit


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    done = _verify(_installed_copy(tmp_path, UNIT.read_text()))
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_systemd_analyze_verify_reports_a_typo(tmp_path: Path) -> None:
    text = UNIT.read_text().replace("\nProtectSystem=strict", "\nProtectSytem=strict")
    done = _verify(_installed_copy(tmp_path, text))
    assert "Unknown key 'ProtectSytem'" in done.stderr


def test_config_errors_do_not_restart_loop() -> None:
    assert SERVICE["Restart"] == "on-failure"
    assert SERVICE["RestartPreventExitStatus"].split() == [str(EXIT_USAGE)]
    assert EXIT_UNREACHABLE != EXIT_USAGE  # Kafka down: restarted


def test_config_and_secrets() -> None:
    exec_start = SERVICE["ExecStart"].split()
    assert exec_start[:3] == ["/opt/auditpipe/bin/auditpipe", "run", "--config"]
    assert exec_start[3] == f"{INSTALLED_CONFIG_DIR}/config.yaml"
    assert SERVICE["EnvironmentFile"] == f"{INSTALLED_CONFIG_DIR}/auditpipe.env"
    assert SERVICE["ConfigurationDirectory"] == "auditpipe"
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", (SYSTEMD / "config.yaml").read_text()))
    assert needed and needed <= set(env_file()), sorted(needed - set(env_file()))


def test_config_passes_config_check_with_the_environment_file() -> None:
    env = {k: v for k, v in os.environ.items() if k not in env_file()} | env_file()
    check = [sys.executable, "-m", "pipeline", "config", "check", str(SYSTEMD / "config.yaml")]
    done = subprocess.run(check, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr


def test_stop_timeout_outlasts_the_graceful_stop() -> None:
    config = load(SYSTEMD / "config.yaml", env=env_file())
    assert int(SERVICE["TimeoutStopSec"]) > config.delivery.shutdown_timeout_secs
    assert SERVICE["KillSignal"] == "SIGTERM" and SERVICE["KillMode"] == "mixed"


def test_every_path_the_config_writes_is_writable() -> None:
    config = load(SYSTEMD / "config.yaml", env=env_file())
    written = [o.path for o in [*config.outputs, config.default_output] if isinstance(o, FileOutput) and o.path != "-"]
    if isinstance(config.dead_letters, DeadLetterFile):
        written.append(config.dead_letters.path)
    assert written, "the example writes a file (dead letters), to show ReadWritePaths"
    writable = SERVICE["ReadWritePaths"].split()
    assert f"/var/lib/{SERVICE['StateDirectory']}" in writable
    for path in written:
        assert any(Path(path).is_relative_to(w) for w in writable), f"{path} is not under ReadWritePaths {writable}"


def test_hardening() -> None:
    assert SERVICE["User"] not in ("root", "0") and SERVICE["Group"] not in ("root", "0")
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",
        "RestrictSUIDSGID": "yes",
        "SystemCallFilter": "@system-service",
    }
    assert {k: SERVICE.get(k) for k in expected} == expected


def test_install_steps_name_real_build_phases() -> None:
    steps = re.findall(r"build-steps\.sh (\w+)", UNIT.read_text())
    script = (ROOT / "deploy" / "container" / "build-steps.sh").read_text()
    assert steps == ["wheel", "install"]
    for phase in steps:
        assert f"\nphase_{phase}() {{" in script
