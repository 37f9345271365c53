"""Shared fixtures: both matcher twins, and the switch that makes a missing
compiled matcher a failure rather than a silent fallback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import _fastmatch
from _fastmatch import PyMatcher

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AUDITPIPE_SHARED", ROOT.parent / "shared"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


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


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"shared material not found at {SHARED} (set AUDITPIPE_SHARED)")
    return SHARED


sys.path.insert(0, str(ROOT))
