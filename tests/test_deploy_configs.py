"""Every auditpipe config shipped under deploy/ names the shipped JSON Schema (for
editors) by a path that resolves, and validates against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipeline import config as config_mod

from .conftest import ROOT

SCHEMA = ROOT / "configs" / "auditpipe.schema.json"
_MARKER = re.compile(r"^# yaml-language-server: \$schema=(\S+)$", re.M)
CONFIGS = sorted(p for p in (ROOT / "deploy").rglob("*.yaml") if _MARKER.search(p.read_text()))


def test_the_deploy_configs_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in CONFIGS}
    assert {
        "deploy/kubernetes/base/config.yaml",
        "deploy/kubernetes/overlays/example/config.yaml",
        "deploy/systemd/config.yaml",
        "deploy/fluent-bit/auditpipe-tail-raw.yaml",
        "deploy/fluent-bit/auditpipe-tail-envelope.yaml",
        "deploy/fluent-bit/auditpipe-http-webhook.yaml",
    } <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_schema_reference_resolves_and_the_config_validates(path: Path) -> None:
    import jsonschema

    match = _MARKER.search(path.read_text())
    assert match is not None
    assert (path.parent / match.group(1)).resolve() == SCHEMA
    jsonschema.validate(yaml.safe_load(path.read_text()), config_mod.json_schema())
