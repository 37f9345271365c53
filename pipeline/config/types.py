"""The base of every config section and the annotated types options share."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class Base(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    """Every config section: keyword-only, immutable, unknown keys refused."""


# A file-system path; a relative one is relative to the config file's folder.
ConfigPath = Annotated[
    str, Meta(min_length=1, extra={"path": True}, description="A path; relative paths are relative to the config file.")
]
# A value masked wherever the config is shown (logs, `config check`).
Secret = Annotated[str, Meta(min_length=1, extra={"secret": True}, description="A secret; use ${VAR}.")]
Port = Annotated[int, Meta(ge=1, le=65535)]
Positive = Annotated[int, Meta(ge=1)]
# An output's name: a metrics label and a summary line, so short and plain.
Name = Annotated[str, Meta(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
# Kafka's own rule for topic names.
TopicName = Annotated[str, Meta(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]
