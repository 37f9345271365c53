"""Audit-policy rule matcher: a Cython core with a plain Python twin.

``Matcher`` is the compiled twin when it is built and not disabled, else the
Python twin. Set ``AUDITPIPE_NO_EXTENSIONS=1`` to select the Python twin on
purpose; ``USING_EXTENSION`` tells which one is active.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._matcher_py import PyMatcher, Request, Rule

NO_EXTENSIONS = bool(os.environ.get("AUDITPIPE_NO_EXTENSIONS"))

if TYPE_CHECKING or NO_EXTENSIONS:
    Matcher = PyMatcher
    USING_EXTENSION = False
else:
    try:
        from ._matcher_c import CMatcher as Matcher  # type: ignore[assignment]

        USING_EXTENSION = True
    except ImportError:  # not built: the tests refuse this unless NO_EXTENSIONS is set
        Matcher = PyMatcher
        USING_EXTENSION = False

# The one-pass event scanner (``_scan.pyx``) has no twin of its own: without it
# every record takes the reference path (pipeline/events.py), which it is tested against.
Scanner = None
# ``chunk.split(b"\n")`` with memchr; None: the file sources use bytes.split.
split_lines = None
# Kafka's key partitioning in C; None: aiokafka's own partitioner (in Python) decides.
partition_index = None
if not NO_EXTENSIONS:
    try:
        from ._scan import Scanner, split_lines
    except ImportError:
        pass
    try:
        from ._partition import partition_index
    except ImportError:
        pass

__all__ = [
    "NO_EXTENSIONS",
    "USING_EXTENSION",
    "Matcher",
    "PyMatcher",
    "Request",
    "Rule",
    "Scanner",
    "partition_index",
    "split_lines",
]
