"""The Kubernetes manifests (deploy/kubernetes): strictly valid objects (the Go checker
in deploy/check), a config that `auditpipe config check` accepts with the Deployment's
environment, and a Deployment that agrees with that config."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from pipeline import __version__
from pipeline.config import WebhookSource, load

from .conftest import ROOT

KUBE = ROOT / "deploy" / "kubernetes"
BASE = KUBE / "base"
OVERLAY = KUBE / "overlays" / "example"
SECRET = "auditpipe-secrets"
# The preStop pause before the container gets SIGTERM.
PRE_STOP_SECS = 5


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def container() -> dict[str, Any]:
    (deployment,) = docs(BASE / "deployment.yaml")
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def pod_spec() -> dict[str, Any]:
    (deployment,) = docs(BASE / "deployment.yaml")
    spec = deployment["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


# ---- the strict checker (deploy/check) ----------------------------------------


@pytest.fixture(scope="session")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/check built once (the Go module cache and build cache make it quick when warm)."""
    go = shutil.which("go")
    if go is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Go is needed to check the manifests (deploy/check) and CI=true")
        pytest.skip("Go is not installed: the manifests are checked by deploy/check in CI")
    out = tmp_path_factory.mktemp("check") / "check"
    subprocess.run([go, "build", "-o", str(out), "./deploy/check"], cwd=ROOT, check=True, timeout=900)
    return out


@pytest.mark.parametrize("kustomization", [BASE, OVERLAY], ids=["base", "overlay"])
def test_manifests_decode_strictly(checker: Path, kustomization: Path) -> None:
    done = subprocess.run([str(checker), str(kustomization)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r".*: ok \(\d+ objects\)\n", done.stdout)


def test_a_typo_in_a_copy_of_the_base_fails(checker: Path, tmp_path: Path) -> None:
    copy = tmp_path / "base"
    shutil.copytree(BASE, copy)
    deployment = copy / "deployment.yaml"
    text = deployment.read_text()
    assert text.count("readOnlyRootFilesystem: true") == 1
    deployment.write_text(text.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true"))
    done = subprocess.run([str(checker), "-q", str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1
    assert "deployment.yaml" in done.stderr and "Deployment auditpipe" in done.stderr
    assert 'unknown field "spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem"' in done.stderr


def test_a_wrong_type_in_the_overlay_patch_fails(checker: Path, tmp_path: Path) -> None:
    shutil.copytree(KUBE, tmp_path / "kubernetes")
    kustomization = tmp_path / "kubernetes" / "overlays" / "example" / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text().replace("value: 3", 'value: "three"'))
    done = subprocess.run([str(checker), "-q", str(kustomization.parent)], capture_output=True, text=True)
    assert done.returncode == 1 and "replicas" in done.stderr, done.stderr


# ---- the config in the ConfigMap ------------------------------------------------


def secret_env() -> dict[str, str]:
    """The Deployment's variables from the Secret, with stand-in values."""
    return {e["name"]: f"stand-in-{e['name'].lower()}" for e in container()["env"] if "secretKeyRef" in e["valueFrom"]}


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_config_passes_config_check_with_the_deployments_environment(directory: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in secret_env()} | secret_env()
    check = [sys.executable, "-m", "pipeline", "config", "check", str(directory / "config.yaml")]
    done = subprocess.run(check, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{directory / 'config.yaml'}: ok\n"
    # Without the Secret's variables it is refused, naming the first one it needs.
    bare = {k: v for k, v in env.items() if k not in secret_env()}
    done = subprocess.run(check, capture_output=True, text=True, env=bare)
    assert done.returncode == 2 and "environment variable KAFKA_PASSWORD is not set" in done.stderr


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_every_variable_the_config_needs_comes_from_the_secret(directory: Path) -> None:
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", (directory / "config.yaml").read_text()))
    env = {e["name"]: e for e in container()["env"]}
    assert needed and needed <= set(env), f"not set by the Deployment: {sorted(needed - set(env))}"
    keys = set()
    for name in needed:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == SECRET
        keys.add(ref["key"])
    # The `kubectl create secret` line the kustomizations show creates exactly these keys.
    for kustomization in (BASE / "kustomization.yaml", OVERLAY / "kustomization.yaml"):
        text = kustomization.read_text()
        assert f"create secret generic {SECRET}" in text
        assert set(re.findall(r"--from-literal=([a-z-]+)=", text)) == keys


def test_the_config_map_is_the_config_the_container_reads() -> None:
    (kustomization,) = docs(BASE / "kustomization.yaml")
    (generator,) = kustomization["configMapGenerator"]
    assert sorted(generator["files"]) == ["config.yaml", "policy.yaml"]
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    mounts = {m["name"]: m for m in container()["volumeMounts"]}
    (config_volume,) = [name for name, v in volumes.items() if v.get("configMap", {}).get("name") == generator["name"]]
    args = container()["args"]
    assert args[:2] == ["run", "--config"]
    assert args[2] == f"{mounts[config_volume]['mountPath']}/config.yaml" and mounts[config_volume]["readOnly"]
    for directory in (BASE, OVERLAY):
        assert yaml.safe_load((directory / "config.yaml").read_text())["policy"] == "policy.yaml"
    # The example overlay replaces both files of the same ConfigMap.
    (overlay,) = docs(OVERLAY / "kustomization.yaml")
    (replaced,) = overlay["configMapGenerator"]
    assert replaced["name"] == generator["name"] and replaced["behavior"] == "replace"
    assert sorted(replaced["files"]) == sorted(generator["files"])


def test_policies_are_the_shipped_ones() -> None:
    assert (BASE / "policy.yaml").read_bytes() == (ROOT / "configs" / "policies" / "volume-cut.yaml").read_bytes()
    assert (OVERLAY / "policy.yaml").read_bytes() == (ROOT / "configs" / "policies" / "security.yaml").read_bytes()


# ---- the Deployment agrees with the config -------------------------------------


def _config(directory: Path) -> Any:
    return load(directory / "config.yaml", env=secret_env())


def test_grace_period_outlasts_the_graceful_stop() -> None:
    spec = pod_spec()
    assert container()["lifecycle"]["preStop"] == {"sleep": {"seconds": PRE_STOP_SECS}}
    for directory in (BASE, OVERLAY):
        shutdown = _config(directory).delivery.shutdown_timeout_secs
        assert spec["terminationGracePeriodSeconds"] > PRE_STOP_SECS + shutdown


def test_ports_probes_service_and_monitor_use_the_configs_ports() -> None:
    ports = {p["name"]: p["containerPort"] for p in container()["ports"]}
    for directory in (BASE, OVERLAY):
        config = _config(directory)
        assert ports["metrics"] == config.metrics.port and config.metrics.enabled
        assert config.metrics.host == "0.0.0.0"  # the kubelet probes the pod's IP
        (webhook,) = [s for s in config.sources if isinstance(s, WebhookSource)]
        assert ports["webhook"] == webhook.port
    assert container()["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container()["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    (service,) = docs(BASE / "service.yaml")
    assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
        "webhook": (ports["webhook"], "webhook"),
        "metrics": (ports["metrics"], "metrics"),
    }
    (monitor,) = docs(BASE / "servicemonitor.yaml")
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_probe_timing_is_sensible() -> None:
    live, ready = container()["livenessProbe"], container()["readinessProbe"]
    # Liveness gives a busy process 30 s before a restart; readiness drops a pod in 10 s.
    assert live["periodSeconds"] * live["failureThreshold"] >= 30
    assert ready["periodSeconds"] * ready["failureThreshold"] <= 10
    for probe in (live, ready):
        assert probe["timeoutSeconds"] < probe["periodSeconds"]


def test_restricted_security_context() -> None:
    pod, box = pod_spec()["securityContext"], container()["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0 and pod["runAsGroup"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert box["runAsNonRoot"] is True
    assert box["readOnlyRootFilesystem"] is True
    assert box["allowPrivilegeEscalation"] is False
    assert box["capabilities"] == {"drop": ["ALL"]}
    assert pod_spec()["automountServiceAccountToken"] is False
    mounts = {m["mountPath"]: m["name"] for m in container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # the image's declared volume
    (namespace,) = docs(BASE / "namespace.yaml")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_image_tags_are_the_package_version() -> None:
    assert container()["image"] == f"auditpipe:{__version__}"
    (overlay,) = docs(OVERLAY / "kustomization.yaml")
    (image,) = overlay["images"]
    assert image["name"] == "auditpipe" and image["newTag"] == __version__


def test_pdb_and_replicas() -> None:
    (deployment,) = docs(BASE / "deployment.yaml")
    (pdb,) = docs(BASE / "poddisruptionbudget.yaml")
    assert deployment["spec"]["replicas"] >= 2 and pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


def test_apiserver_kubeconfig_targets_the_webhook_source() -> None:
    kubeconfig = yaml.safe_load((KUBE / "apiserver-webhook.kubeconfig").read_text())
    (cluster,) = kubeconfig["clusters"]
    url = urlsplit(cluster["cluster"]["server"])
    (service,) = docs(BASE / "service.yaml")
    webhook_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "webhook")
    (webhook,) = [s for s in _config(BASE).sources if isinstance(s, WebhookSource)]
    assert (url.scheme, url.port, url.path) == ("http", webhook_port, webhook.path)
    (user,) = kubeconfig["users"]
    assert "token" in user["user"]  # the source's bearer_token (${WEBHOOK_TOKEN})
    assert webhook.bearer_token == secret_env()["WEBHOOK_TOKEN"]
