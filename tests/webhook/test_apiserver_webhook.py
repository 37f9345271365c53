"""auditpipe's webhook fed by kube-apiserver's own webhook backend
(``apiserver-replay webhook``: ``k8s.io/apiserver``'s webhook and buffered
backends, its kubeconfig loading, TLS and retries), with auditpipe running as
a real process: over TLS with a client certificate and a bearer token, every
event arrives unchanged; wrong credentials are refused; an oversized body gets
413 and the apiserver gives it up; what is not JSON gets 400 once it is
dead-lettered; a full webhook gets 503 and the apiserver's retry gets through.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipeline.generate import make_events

from ..conftest import REAL_AUDIT
from ..falco_receiver import FalcoReceiver, audit_keys
from ..helpers import event, line
from ..tlsfiles import TlsFiles
from .util import (
    TOKEN,
    Auditpipe,
    canonical,
    read_jsonl,
    replay,
    without_auditpipe,
    write_events,
    write_kubeconfig,
)

pytestmark = pytest.mark.timeout(600)


def client_cert(tls: TlsFiles) -> tuple[Path, Path]:
    return tls.client_cert, tls.client_key


def test_every_event_arrives_unchanged(tmp_path: Path, apiserver_replay: Path, tls_files: TlsFiles) -> None:
    lines = make_events(5000, seed=11) + (REAL_AUDIT / "crowdsec-hub-k8s-audit.jsonl").read_bytes().splitlines()
    events = write_events(tmp_path / "events.jsonl", lines)
    auditpipe = Auditpipe(tmp_path, tls_files).start()
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", auditpipe.url, tls_files, cert=client_cert(tls_files))
        result = replay(apiserver_replay, kubeconfig, events, "--buffer-size", "20000")
        answered = auditpipe.answered()
    finally:
        assert auditpipe.stop() == 0, auditpipe.log_text()
    assert (result.code, result.summary["events"], result.summary["dropped"]) == (0, len(lines), 0), str(result)
    out = auditpipe.outputs()
    # Equal in content, event for event, as many times as sent: kube-apiserver's items
    # carry no kind/apiVersion (auditpipe adds them back) and auditpipe adds its annotations.
    assert Counter(canonical(without_auditpipe(e)) for e in out) == Counter(canonical(json.loads(x)) for x in lines)
    for e in out:
        assert e["annotations"]["auditpipe.io/cluster"] == "test"
        assert e["annotations"]["auditpipe.io/source"].startswith("webhook:127.0.0.1:")
    # 503s are possible: kube sends up to 15 batches at once (its throttle's burst), and a
    # request over max_inflight_requests is refused before it is read, then sent again.
    assert answered[200] > 0 and set(answered) <= {200, 503}, answered
    assert auditpipe.dead.exists() is False


def test_wrong_credentials_are_refused_and_the_right_ones_work(
    tmp_path: Path, apiserver_replay: Path, tls_files: TlsFiles
) -> None:
    lines = make_events(30, seed=3)
    events = write_events(tmp_path / "events.jsonl", lines)
    fast_give_up = ("--initial-backoff", "20ms")
    auditpipe = Auditpipe(tmp_path, tls_files).start()
    try:
        wrong = write_kubeconfig(
            tmp_path / "wrong", auditpipe.url, tls_files, cert=(tls_files.wrong_client_cert, tls_files.wrong_client_key)
        )
        no_cert = write_kubeconfig(tmp_path / "no-cert", auditpipe.url, tls_files)
        no_token = write_kubeconfig(
            tmp_path / "no-token", auditpipe.url, tls_files, cert=client_cert(tls_files), token=None
        )
        right = write_kubeconfig(tmp_path / "right", auditpipe.url, tls_files, cert=client_cert(tls_files))
        kubeconfigs = {"wrong": wrong, "no-cert": no_cert, "no-token": no_token, "right": right}
        results = {name: replay(apiserver_replay, k, events, *fast_give_up) for name, k in kubeconfigs.items()}
        answered = auditpipe.answered()
    finally:
        assert auditpipe.stop() == 0, auditpipe.log_text()
    for name in ("wrong", "no-cert", "no-token"):
        r = results[name]
        assert (r.code, r.summary["dropped"]) == (3, len(lines)), f"{name}: {r}"  # kube gave the events up
    assert (results["right"].code, results["right"].summary["dropped"]) == (0, 0), str(results["right"])
    # The certificates were refused in the TLS handshake: those requests never reached the webhook.
    assert set(answered) == {200, 401}
    assert answered[401] % 5 == 0  # kube's 5 attempts per batch
    assert sorted(e["auditID"] for e in auditpipe.outputs()) == sorted(json.loads(x)["auditID"] for x in lines)


def post(auditpipe: Auditpipe, tls: TlsFiles, body: bytes) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(tls.ca))
    context.load_cert_chain(tls.client_cert, tls.client_key)
    request = urllib.request.Request(auditpipe.url, data=body, method="POST")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_oversized_bodies_get_413_and_what_is_not_an_event_gets_400_once_dead_lettered(
    tmp_path: Path, apiserver_replay: Path, tls_files: TlsFiles
) -> None:
    small = [line(event(auditID=f"small-{i}", requestObject=None, responseObject=None)) for i in range(40)]
    big = [line(event(auditID=f"big-{i}", requestObject={"data": "x" * 100_000})) for i in range(2)]
    events = write_events(tmp_path / "events.jsonl", small[:20] + big + small[20:])
    auditpipe = Auditpipe(tmp_path, tls_files, source={"max_body_bytes": 65536}).start()
    try:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", auditpipe.url, tls_files, cert=client_cert(tls_files))
        # One event per request, so exactly the two big ones are over the limit.
        result = replay(apiserver_replay, kubeconfig, events, "--batch-max-size", "1", "--initial-backoff", "20ms")
        not_json = post(auditpipe, tls_files, b"this is not json, it is a log line")
        not_an_event = post(auditpipe, tls_files, b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}')
        answered = auditpipe.answered()
    finally:
        assert auditpipe.stop() == 0, auditpipe.log_text()
    assert (result.code, result.summary["dropped"]) == (3, 2), str(result)  # kube gave up the two big ones
    assert answered[413] == 2 * 5  # each of kube's 5 attempts refused
    assert sorted(e["auditID"] for e in auditpipe.outputs()) == sorted(f"small-{i}" for i in range(40))
    assert not_json[0] == 400 and "invalid_json" in not_json[1]
    assert not_an_event[0] == 400 and "unknown_shape" in not_an_event[1]
    # Both bodies are in the dead-letter file, unchanged, and their reasons in the log.
    assert auditpipe.dead.read_bytes().splitlines() == [
        b"this is not json, it is a log line",
        b'{"kind":"Pod","apiVersion":"v1","metadata":{"name":"x"}}',
    ]
    reasons = [r["detail"] for r in auditpipe.log_records() if r["msg"] == "Rejected a record."]
    assert len(reasons) == 2
    assert "invalid_json at $" in reasons[0] and "unknown_shape at $" in reasons[1]
    assert all(r.startswith("webhook:127.0.0.1:") for r in reasons)


def test_a_full_webhook_answers_503_and_the_apiservers_retry_gets_through(
    tmp_path: Path, apiserver_replay: Path, tls_files: TlsFiles
) -> None:
    lines = make_events(400, seed=5)
    events = write_events(tmp_path / "events.jsonl", lines)
    with FalcoReceiver(delay_secs=0.2) as slow:  # each delivery takes a while
        falco: dict[str, Any] = {"name": "slow", "type": "http", "url": slow.url, "require_stage_timestamp": True}
        auditpipe = Auditpipe(tmp_path, tls_files, source={"max_inflight_requests": 1}, default_output=falco).start()
        try:
            kubeconfig = write_kubeconfig(
                tmp_path / "kubeconfig", auditpipe.url, tls_files, cert=client_cert(tls_files)
            )
            # Eight or more batches sent at once; one is taken at a time.
            flags = ("--batch-max-size", "50", "--no-throttle", "--initial-backoff", "1s")
            result = replay(apiserver_replay, kubeconfig, events, *flags)
            answered = auditpipe.answered()
        finally:
            assert auditpipe.stop() == 0, auditpipe.log_text()
    assert (result.code, result.summary["dropped"]) == (0, 0), str(result)
    assert answered[503] > 0 and answered[200] >= len(lines) // 50, answered
    # Every event once: accepted by the receiver, or (the few over Falco's 256 KiB) dead-lettered.
    keys = Counter(audit_keys(slow.accepted_events())) + Counter(audit_keys(read_jsonl(auditpipe.dead)))
    assert keys == Counter(audit_keys([json.loads(x) for x in lines]))
    assert slow.dropped == []
