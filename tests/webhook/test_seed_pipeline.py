"""The seed document's pipeline end to end, in one test: kube-apiserver's own
webhook backend (TLS, client certificate, token) -> auditpipe with the seed's
security policy (configs/policies/security.yaml) -> Falco's k8saudit webhook,
here the Falco-rule receiver.

What must hold: every event the policy keeps reaches Falco and is accepted
there, or is in the dead-letter output with a reason; nothing auditpipe sent
was dropped by Falco's rules after its 200; and every dead letter is an event
Falco's rules would indeed have dropped (none refused needlessly). The corpus
holds such events on purpose: real v1 events without ``stageTimestamp`` (kube
sends ``null``) and a pod create whose body is over Falco's 256 KiB."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipeline import config as config_mod
from pipeline.generate import make_events
from pipeline.policy import load as load_policy
from pipeline.process import Processor

from ..conftest import REAL_AUDIT, ROOT
from ..falco_receiver import FalcoReceiver, audit_keys, falco_parse
from ..helpers import event, line
from ..tlsfiles import TlsFiles
from .util import Auditpipe, read_jsonl, replay, write_events, write_kubeconfig

pytestmark = pytest.mark.timeout(600)

SECURITY_POLICY = ROOT / "configs" / "policies" / "security.yaml"


def corpus() -> list[bytes]:
    big_pod = event(auditID="big-pod", requestObject={"kind": "Pod", "metadata": {"name": "web"}, "x": "x" * 300_000})
    return [
        *make_events(3000, seed=21),
        *(REAL_AUDIT / "audit2rbac-demo-v1.jsonl").read_bytes().splitlines(),  # no stageTimestamp
        *(REAL_AUDIT / "crowdsec-hub-k8s-audit.jsonl").read_bytes().splitlines(),
        line(big_pod),
    ]


def kept_by_policy(lines: list[bytes]) -> Counter[tuple[str, str]]:
    """(auditID, stage) of every event the security policy keeps (the policy's own tests say which)."""
    processor = Processor(load_policy(SECURITY_POLICY), config_mod.loads("{}"))
    batch = processor.process(lines, [f"corpus:{i}" for i in range(len(lines))])
    assert batch.dead_letters == []
    return Counter(audit_keys([json.loads(r.value) for r in batch.events]))


def test_apiserver_webhook_to_auditpipe_to_falco(tmp_path: Path, apiserver_replay: Path, tls_files: TlsFiles) -> None:
    lines = corpus()
    events = write_events(tmp_path / "events.jsonl", lines)
    with FalcoReceiver() as falco:
        output: dict[str, Any] = {
            "name": "falco",
            "type": "http",
            "url": falco.url,
            "headers": {"X-Cluster-Name": "test"},
        }
        auditpipe = Auditpipe(tmp_path, tls_files, policy=SECURITY_POLICY, default_output=output).start()
        try:
            kubeconfig = write_kubeconfig(
                tmp_path / "kubeconfig", auditpipe.url, tls_files, cert=(tls_files.client_cert, tls_files.client_key)
            )
            result = replay(apiserver_replay, kubeconfig, events, "--buffer-size", "20000")
            metrics = auditpipe.metrics()
        finally:
            assert auditpipe.stop() == 0, auditpipe.log_text()
    assert (result.code, result.summary["events"], result.summary["dropped"]) == (0, len(lines), 0), str(result)

    expected = kept_by_policy(lines)
    accepted = Counter(audit_keys(falco.accepted_events()))
    dead = read_jsonl(auditpipe.dead)
    dead_keys = Counter(audit_keys(dead))
    print(
        f"seed pipeline: {len(lines)} events sent by kube-apiserver's webhook backend, {sum(expected.values())} "
        f"kept by the security policy, {sum(accepted.values())} accepted by Falco's rules in {len(falco.requests)} "
        f"requests, {len(dead)} dead-lettered, {len(falco.dropped)} dropped by Falco"
    )
    # Nothing lost, nothing twice: each kept event reached Falco or the dead-letter output.
    assert accepted + dead_keys == expected
    # Nothing Falco received was dropped by its rules after the 200.
    assert falco.dropped == []
    assert set(falco.statuses()) == {200}
    assert all(r.headers.get("X-Cluster-Name") == "test" for r in falco.requests)
    # Every dead letter is one Falco would have dropped, and the corpus's ones are there.
    for letter in auditpipe.dead.read_bytes().splitlines():
        outcome = falco_parse(b'{"kind":"EventList","items":[' + letter + b"]}")
        assert outcome.events == [] and len(outcome.dropped) == 1
    rbac_demo = {json.loads(x)["auditID"] for x in (REAL_AUDIT / "audit2rbac-demo-v1.jsonl").read_bytes().splitlines()}
    # (Besides those, the generator's all-namespaces pod lists, kept at RequestResponse, are over 256 KiB.)
    assert {k for k, _ in dead_keys} >= {"big-pod"} | (rbac_demo & {k for k, _ in expected})
    too_large = [e for e in dead if e["stageTimestamp"] is not None]
    assert all(len(line(e)) > 256 * 1024 for e in too_large)
    # Their reasons are in the log, one per dead letter.
    reasons = [r["detail"] for r in auditpipe.log_records() if r["msg"] == "Rejected a record."]
    assert len(reasons) == len(dead)
    assert sum("too_large at $" in r for r in reasons) == len(too_large)
    assert sum("stageTimestamp is null, not a time string" in r for r in reasons) == len(dead) - len(too_large)
    assert metrics['auditpipe_dead_letters_total{reason="too_large"}'] == len(too_large)
    assert metrics['auditpipe_events_delivered_total{output="falco"}'] == sum(accepted.values())
    assert metrics['auditpipe_http_output_requests_total{outcome="2xx",output="falco"}'] == len(falco.requests)
