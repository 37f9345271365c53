"""Shared fixtures: both matcher twins, and the switch that makes a missing
compiled matcher a failure rather than a silent fallback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

import _fastmatch
from _fastmatch import PyMatcher

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Vendored test data (conformance vectors, real audit samples): see data/SOURCES.md.
DATA = Path(__file__).resolve().parent / "data"
REAL_AUDIT = DATA / "real-audit"


def _c_matcher() -> type | None:
    try:
        from _fastmatch._matcher_c import CMatcher
    except ImportError:
        return None
    return CMatcher


def pytest_report_header(config: pytest.Config) -> str:
    mode = "compiled (Cython)" if _fastmatch.USING_EXTENSION else "pure Python"
    return f"auditpipe matcher: {mode}; AUDITPIPE_NO_EXTENSIONS={os.environ.get('AUDITPIPE_NO_EXTENSIONS', '')!r}"


def pytest_sessionstart(session: pytest.Session) -> None:
    if not _fastmatch.NO_EXTENSIONS and not _fastmatch.USING_EXTENSION:
        raise pytest.UsageError(
            "the compiled matcher _fastmatch._matcher_c did not load: build it with `pip install -e .` "
            "(or `python setup.py build_ext --inplace`), or set AUDITPIPE_NO_EXTENSIONS=1 to test the "
            "pure-Python twin on purpose"
        )


_IMPLS = ["py"] if _fastmatch.NO_EXTENSIONS else ["py", "c"]


@pytest.fixture(params=_IMPLS)
def matcher_cls(request: pytest.FixtureRequest) -> type:
    """Each matcher twin in turn; the C twin only when extensions are on."""
    if request.param == "py":
        return PyMatcher
    cls = _c_matcher()
    assert cls is not None, "compiled matcher missing"
    return cls


sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def apiserver_replay(request: pytest.FixtureRequest) -> Path:
    """kube-apiserver's own audit backends (tests/apiserver), built once per source version;
    skips without Go (fails under CI=true)."""
    from .gotools import build_apiserver_replay, cache_dir

    return build_apiserver_replay(cache_dir(request.config))


@pytest.fixture(scope="session")
def go_time_parse(request: pytest.FixtureRequest) -> Path:
    """A program that answers Go's time.Parse(time.RFC3339Nano, line) for each line of stdin."""
    from .gotools import build_time_parse, cache_dir

    return build_time_parse(cache_dir(request.config))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A CA, a server certificate for 127.0.0.1, a client certificate, and a wrong one (tests/tlsfiles.py)."""
    from .tlsfiles import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))
