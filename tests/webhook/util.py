"""Helpers for the tests that drive auditpipe's webhook with kube-apiserver's
own webhook backend (``apiserver-replay webhook``): kubeconfigs, configs,
running auditpipe as a real process, reading its metrics and outputs."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.net import free_port

from ..conftest import ROOT
from ..tlsfiles import TlsFiles

KEEP_ALL = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: RequestResponse\n"
TOKEN = "apiserver-token-for-tests"


def write_kubeconfig(
    path: Path, server: str, tls: TlsFiles | None, *, cert: tuple[Path, Path] | None = None, token: str | None = TOKEN
) -> Path:
    """A webhook kubeconfig as ``--audit-webhook-config-file`` takes it (JSON is YAML)."""
    user: dict[str, str] = {}
    if cert is not None:
        user["client-certificate"], user["client-key"] = str(cert[0]), str(cert[1])
    if token is not None:
        user["token"] = token
    cluster: dict[str, str] = {"server": server}
    if tls is not None:
        cluster["certificate-authority"] = str(tls.ca)
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "auditpipe", "cluster": cluster}],
                "users": [{"name": "kube-apiserver", "user": user}],
                "contexts": [{"name": "webhook", "context": {"cluster": "auditpipe", "user": "kube-apiserver"}}],
                "current-context": "webhook",
            },
            indent=2,
        )
    )
    return path


@dataclass
class Replay:
    code: int
    summary: dict[str, Any]
    stderr: str

    def __str__(self) -> str:
        return f"apiserver-replay exit {self.code}, {self.summary}\n{self.stderr[-4000:]}"


def replay(binary: Path, kubeconfig: Path, events: Path, *flags: str, timeout: float = 300) -> Replay:
    """Send ``events`` through kube-apiserver's webhook backend; its summary line and stderr."""
    result = subprocess.run(
        [str(binary), "webhook", "--kubeconfig", str(kubeconfig), "--events", str(events), *flags],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {}
    return Replay(result.returncode, summary, result.stderr)


def write_events(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(x + b"\n" for x in lines))
    return path


class Auditpipe:
    """``python -m pipeline run --config FILE`` as a real process, with its webhook on TLS and mutual TLS."""

    def __init__(
        self,
        tmp: Path,
        tls: TlsFiles | None,
        *,
        policy: str | Path = KEEP_ALL,
        outputs: list[dict[str, Any]] | None = None,
        default_output: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        name: str = "auditpipe",
    ) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.metrics_port = free_port()
        self.output = tmp / f"{name}-out.jsonl"
        self.dead = tmp / f"{name}-dead.jsonl"
        self.log = tmp / f"{name}.log"
        if isinstance(policy, str):
            policy_path = tmp / f"{name}-policy.yaml"
            policy_path.write_text(policy)
        else:
            policy_path = policy
        webhook: dict[str, Any] = {"type": "webhook", "host": "127.0.0.1", "port": self.port, "path": "/audit"}
        if tls is not None:
            webhook["tls"] = {
                "cert_file": str(tls.server_cert),
                "key_file": str(tls.server_key),
                "client_ca_file": str(tls.ca),
            }
            webhook["bearer_token"] = TOKEN
        webhook.update(source or {})
        config = {
            "policy": str(policy_path),
            "enrichment": {"cluster_name": "test"},
            "sources": [webhook],
            "outputs": outputs or [],
            "default_output": default_output or {"name": "out", "type": "file", "path": str(self.output)},
            "dead_letters": {"type": "file", "path": str(self.dead)},
            "metrics": {"host": "127.0.0.1", "port": self.metrics_port},
            "delivery": {"shutdown_timeout_secs": 15},
            "log_format": "json",
            **(extra or {}),
        }
        self.config = tmp / f"{name}.yaml"
        self.config.write_text(json.dumps(config, indent=2))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/audit"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Auditpipe:
        with open(self.log, "ab") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline", "run", "--config", str(self.config)],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"auditpipe did not become ready:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as answer:
                return bool(answer.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def kill(self) -> None:
        """``kill -9``: no flush, no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def metrics(self) -> dict[str, float]:
        """Samples as ``name{labels}`` -> value."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        samples = {}
        for row in text.splitlines():
            if row and not row.startswith("#"):
                name, _, value = row.rpartition(" ")
                samples[name] = float(value)
        return samples

    def answered(self) -> Counter[int]:
        """Webhook requests answered, by status code."""
        codes: Counter[int] = Counter()
        for name, value in self.metrics().items():
            m = re.fullmatch(r'auditpipe_webhook_requests_total\{code="(\d+)"\}', name)
            if m:
                codes[int(m.group(1))] = int(value)
        return codes

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for row in self.log.read_text(errors="replace").splitlines():
            if row.startswith("{"):
                records.append(json.loads(row))
        return records

    def outputs(self) -> list[dict[str, Any]]:
        return read_jsonl(self.output)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(row) for row in path.read_bytes().splitlines() if row.strip()]


def without_auditpipe(event: dict[str, Any]) -> dict[str, Any]:
    """The event as kube-apiserver sent it: auditpipe's annotations taken out again."""
    out = dict(event)
    annotations = {k: v for k, v in out.get("annotations", {}).items() if not k.startswith("auditpipe.io/")}
    if annotations:
        out["annotations"] = annotations
    else:
        out.pop("annotations", None)
    return out


def canonical(event: dict[str, Any]) -> str:
    return json.dumps(event, sort_keys=True, separators=(",", ":"))
