"""Config checks for the log source and the rotating file output: what `run`
would refuse, `config check` refuses first, naming the path; a log file that
does not exist yet is fine."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

from pipeline import config as config_mod
from pipeline.cli import main
from pipeline.errors import ConfigError

load_mod = importlib.import_module("pipeline.config.checks")  # the module with the checks

LOG = "sources:\n  - {type: log, paths: ['logs/*.log'], checkpoint_path: state/c.json}\n"


def test_a_log_source_needs_no_log_file_yet(tmp_path: Path) -> None:
    config = config_mod.loads(LOG, "c.yaml", base_dir=tmp_path)
    source = config.sources[0]
    assert isinstance(source, config_mod.LogSource)
    assert source.paths == [str(tmp_path / "logs" / "*.log")]
    assert source.checkpoint_path == str(tmp_path / "state" / "c.json")
    assert not (tmp_path / "state").exists()  # checking creates nothing


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            "sources:\n  - {type: log, paths: [a.log], checkpoint_path: afile/c.json}\n",
            "the checkpoint cannot be written: {tmp}/afile is not a directory - at `$.sources[0].checkpoint_path`",
        ),
        (
            "sources:\n  - {type: log, paths: [a.log], checkpoint_path: adir}\n",
            "{tmp}/adir is a directory; name a file in it - at `$.sources[0].checkpoint_path`",
        ),
        (
            "sources:\n  - {type: log, paths: [a.log], checkpoint_path: c.json}\n"
            "  - {type: log, paths: [b.log], checkpoint_path: c.json}\n",
            "sources 0 and 1 share the checkpoint",
        ),
        (LOG + "outputs:\n  - {type: file, name: a, path: logs/out.log}\n", "logs/out.log is also an input"),
        (
            "outputs:\n  - {type: file, name: a, path: '-', rotation: {}}\n",
            "standard output cannot be rotated - at `$.outputs[0].rotation`",
        ),
        (
            "outputs:\n  - {type: file, name: a, path: x.log, mode: truncate, rotation: {}}\n",
            "a rotated file is appended to",
        ),
        ("outputs:\n  - {type: file, name: a, path: x.log, rotation: {max_size_mb: 0}}\n", "Expected `int` >= 1"),
        (
            "sources:\n  - {type: log, paths: [a.log], checkpoint_path: c.json, start_at: middle}\n",
            "at `$.sources[0].start_at`",
        ),
        ("sources:\n  - {type: log, paths: [], checkpoint_path: c.json}\n", "at `$.sources[0].paths`"),
    ],
)
def test_bad_log_and_rotation_configs_name_the_path(text: str, fragment: str, tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    with pytest.raises(ConfigError) as info:
        config_mod.loads(text, "c.yaml", base_dir=tmp_path)
    assert fragment.format(tmp=tmp_path) in str(info.value)


def test_an_unwritable_checkpoint_directory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root may write anywhere, so stand in for a read-only folder (a fake for os.access only).
    (tmp_path / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(
        load_mod.os, "access", lambda p, mode: False if str(p) == str(tmp_path / "ro") else real_access(p, mode)
    )
    text = "sources:\n  - {type: log, paths: [a.log], checkpoint_path: ro/new/c.json}\n"
    with pytest.raises(ConfigError, match=f"cannot write in {tmp_path}/ro - at"):
        config_mod.loads(text, "c.yaml", base_dir=tmp_path)


def test_an_output_next_to_the_log_but_not_matched_is_fine(tmp_path: Path) -> None:
    text = LOG + "outputs:\n  - {type: file, name: a, path: logs/out.jsonl, rotation: {compress: true}}\n"
    output = config_mod.loads(text, "c.yaml", base_dir=tmp_path).outputs[0]
    assert isinstance(output, config_mod.FileOutput) and output.rotation is not None and output.rotation.compress
    assert load_mod.glob_matches(str(tmp_path / "logs" / "*.log"), str(tmp_path / "logs" / "x.log"))
    assert not load_mod.glob_matches(str(tmp_path / "*.log"), str(tmp_path / "logs" / "x.log"))


def test_workers_are_refused_for_a_log_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(LOG)
    assert main(["run", "--config", str(config), "--workers", "2"]) == 2
    assert "a log source is followed by one process" in capsys.readouterr().err
