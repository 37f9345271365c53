"""Everything ``run`` would refuse in a config, checked when it is loaded.

``config check`` and ``run`` load the same way, so what the first accepts the
second starts with: Kafka settings, TLS and checkpoint files, selectors, the
annotation prefix, listeners that collide, outputs that would feed on their
own inputs. Each problem is one line ending in the JSON path it is about.
"""

from __future__ import annotations

import fnmatch
import os
import re

from ..policy import selecting_fields
from ..policy.validate import is_dns_subdomain
from .model import Config
from .outputs import DeadLetterFile, DeadLetterKafka, FileOutput, HttpOutput, KafkaOutput
from .sources import FileSource, KafkaSource, LogSource, WebhookSource

STDIO = "-"
# The enrichment keys appended to ``annotation_prefix``; the longest decides.
ANNOTATION_NAMES = ("rule", "original-level", "source", "cluster", "envelope", "synthesized")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def parse_bootstrap(servers: str) -> list[tuple[str, int]]:
    """``host:port,host:port`` as pairs; ValueError naming the bad entry."""
    pairs = []
    for entry in servers.split(","):
        host, sep, port = entry.strip().rpartition(":")
        host = host.strip("[]")  # an IPv6 literal in brackets
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValueError(f"`{entry.strip()}` is not host:port (port 1-65535)")
        pairs.append((host, int(port)))
    return pairs


def _annotation_prefix_problem(prefix: str) -> str | None:
    key = prefix + max(ANNOTATION_NAMES, key=len)
    domain, slash, name = key.rpartition("/")
    if slash and not is_dns_subdomain(domain):
        return f"the part before `/` must be a DNS subdomain (lower case, digits, `-` and `.`), got {domain!r}"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "annotation names must be at most 63 characters of letters, digits, `-`, `_` and `.`, "
            f"starting and ending with a letter or digit (this prefix makes {name!r})"
        )
    return None


def _same_file(a: str, b: str) -> bool:
    if STDIO in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _kafka_problems(config: Config) -> list[str]:
    uses = [f"$.sources[{i}]" for i, s in enumerate(config.sources) if isinstance(s, KafkaSource)]
    uses += [f"$.outputs[{i}]" for i, o in enumerate(config.outputs) if isinstance(o, KafkaOutput)]
    if isinstance(config.default_output, KafkaOutput):
        uses.append("$.default_output")
    if isinstance(config.dead_letters, DeadLetterKafka):
        uses.append("$.dead_letters")
    k = config.kafka
    if k is None:
        return [f"a Kafka source or output needs the `kafka` section - at `{uses[0]}`"] if uses else []
    problems = []
    try:
        parse_bootstrap(k.bootstrap_servers)
    except ValueError as exc:
        problems.append(f"{exc} - at `$.kafka.bootstrap_servers`")
    sasl_protocol = k.security_protocol.startswith("SASL")
    if sasl_protocol and k.sasl is None:
        problems.append(
            f"security_protocol {k.security_protocol} needs `sasl` (mechanism, username, password) - at `$.kafka.sasl`"
        )
    if k.sasl is not None and not sasl_protocol:
        problems.append(
            f"`sasl` is set but security_protocol is {k.security_protocol} (use SASL_PLAINTEXT or "
            "SASL_SSL) - at `$.kafka.sasl`"
        )
    if k.tls is not None and k.security_protocol not in ("SSL", "SASL_SSL"):
        problems.append(
            f"`tls` is set but security_protocol is {k.security_protocol} (use SSL or SASL_SSL) - at `$.kafka.tls`"
        )
    if k.tls is not None and k.tls.key_file and not k.tls.cert_file:
        problems.append("`key_file` without `cert_file` - at `$.kafka.tls`")
    return problems


def _file_problems(config: Config) -> list[str]:
    inputs = [p for s in config.sources if isinstance(s, FileSource) for p in s.paths]
    patterns = [p for s in config.sources if isinstance(s, LogSource) for p in s.paths]
    outputs = [(f"$.outputs[{i}]", o) for i, o in enumerate(config.outputs)]
    outputs.append(("$.default_output", config.default_output))
    files = [(where, o) for where, o in outputs if isinstance(o, FileOutput)]
    problems = []
    for n, (where, o) in enumerate(files):
        for _, other in files[:n]:
            if o.path == other.path or _same_file(o.path, other.path):
                problems.append(f"outputs {other.name} and {o.name} both write to {o.path} - at `{where}.path`")
    written = [(f"{where}.path", o.path) for where, o in files]
    if isinstance(config.dead_letters, DeadLetterFile):
        written.append(("$.dead_letters.path", config.dead_letters.path))
    for where, path in written:
        if any(_same_file(path, p) for p in inputs) or any(path != STDIO and glob_matches(p, path) for p in patterns):
            problems.append(f"{path} is also an input: it would feed on itself - at `{where}`")
    return problems


def glob_matches(pattern: str, path: str) -> bool:
    """Whether ``glob.glob(pattern)`` would name ``path`` (component by component, as glob does)."""
    pattern_parts = os.path.abspath(pattern).split(os.sep)
    path_parts = os.path.abspath(path).split(os.sep)
    return len(pattern_parts) == len(path_parts) and all(
        fnmatch.fnmatchcase(part, pat) for pat, part in zip(pattern_parts, path_parts)
    )


def _writable_directory_problem(path: str) -> str | None:
    """Why files cannot be created next to ``path`` (its folder, or the nearest existing
    ancestor, which auditpipe would create the folder in); None if they can."""
    directory = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(directory):
        directory = os.path.dirname(directory)
    if not os.path.isdir(directory):
        return f"{directory} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot write in {directory}"
    return None


def _log_source_problems(config: Config) -> list[str]:
    problems = []
    seen: dict[str, int] = {}
    for i, s in enumerate(config.sources):
        if not isinstance(s, LogSource):
            continue
        where = f"$.sources[{i}].checkpoint_path"
        if os.path.isdir(s.checkpoint_path):
            problems.append(f"{s.checkpoint_path} is a directory; name a file in it - at `{where}`")
        else:
            reason = _writable_directory_problem(s.checkpoint_path)
            if reason:
                problems.append(f"the checkpoint cannot be written: {reason} - at `{where}`")
        previous = seen.setdefault(os.path.abspath(s.checkpoint_path), i)
        if previous != i:
            problems.append(f"sources {previous} and {i} share the checkpoint {s.checkpoint_path} - at `{where}`")
    return problems


def _rotation_problems(config: Config) -> list[str]:
    outputs = [(f"$.outputs[{i}]", o) for i, o in enumerate(config.outputs)]
    outputs.append(("$.default_output", config.default_output))
    problems = []
    for where, o in outputs:
        if not isinstance(o, FileOutput) or o.rotation is None:
            continue
        if o.path == STDIO:
            problems.append(f"standard output cannot be rotated - at `{where}.rotation`")
        if o.mode == "truncate":
            problems.append(
                f"a rotated file is appended to (as kube-apiserver's log is); drop `mode` - at `{where}.mode`"
            )
    return problems


def _unreadable(files: list[tuple[str, str | None]]) -> list[str]:
    return [f"cannot read {path} - at `{where}`" for where, path in files if path and not os.access(path, os.R_OK)]


def _webhook_problems(config: Config) -> list[str]:
    problems = []
    listeners: dict[tuple[str, int], str] = {}
    if config.metrics.enabled:
        listeners[(config.metrics.host, config.metrics.port)] = "$.metrics"
    for i, s in enumerate(config.sources):
        if not isinstance(s, WebhookSource):
            continue
        where = f"$.sources[{i}]"
        for (host, port), other in listeners.items():
            if port == s.port and (host == s.host or "0.0.0.0" in (host, s.host)):
                problems.append(f"port {s.port} is also used by `{other}` - at `{where}.port`")
        listeners[(s.host, s.port)] = where
        limit = config.limits.max_record_bytes
        if s.max_body_bytes is not None and s.max_body_bytes > limit:
            problems.append(
                f"max_body_bytes ({s.max_body_bytes}) is over limits.max_record_bytes ({limit}): a body is one "
                f"record, so raise limits.max_record_bytes too - at `{where}.max_body_bytes`"
            )
        if s.tls is not None:
            t = s.tls
            files = [("cert_file", t.cert_file), ("key_file", t.key_file), ("client_ca_file", t.client_ca_file)]
            problems += _unreadable([(f"{where}.tls.{name}", path) for name, path in files])
    return problems


def _http_problems(config: Config) -> list[str]:
    outputs = [(f"$.outputs[{i}]", o) for i, o in enumerate(config.outputs)]
    outputs.append(("$.default_output", config.default_output))
    problems = []
    for where, o in outputs:
        if not isinstance(o, HttpOutput):
            continue
        if o.retry_backoff_initial_secs > o.retry_backoff_max_secs:
            problems.append(f"retry_backoff_initial_secs is over retry_backoff_max_secs - at `{where}`")
        if o.tls is None:
            continue
        if o.url.startswith("http://"):
            problems.append(f"`tls` is set but the url is http:// (use https://) - at `{where}.tls`")
        if o.tls.key_file and not o.tls.cert_file:
            problems.append(f"`key_file` without `cert_file` - at `{where}.tls`")
        files = [("ca_file", o.tls.ca_file), ("cert_file", o.tls.cert_file), ("key_file", o.tls.key_file)]
        problems += _unreadable([(f"{where}.tls.{name}", path) for name, path in files])
    return problems


def check(config: Config) -> list[str]:
    """Every problem ``run`` would hit with this config, as ``message - at `$.path```."""
    problems: list[str] = []
    names = [o.name for o in config.outputs] + [config.default_output.name]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"output names must be unique, repeated: {', '.join(dupes)} - at `$.outputs`")
    for i, o in enumerate(config.outputs):
        problems.extend(f"{p}" for p in selecting_fields(o.selector, f"$.outputs[{i}].selector"))
    reason = _annotation_prefix_problem(config.enrichment.annotation_prefix)
    if reason:
        problems.append(f"not a legal annotation-key prefix: {reason} - at `$.enrichment.annotation_prefix`")
    problems += _kafka_problems(config)
    problems += _file_problems(config)
    problems += _log_source_problems(config)
    problems += _rotation_problems(config)
    problems += _webhook_problems(config)
    problems += _http_problems(config)
    tls = config.kafka.tls if config.kafka else None
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, name, None) if tls else None
        if path and not os.access(path, os.R_OK):
            problems.append(f"cannot read {path} - at `$.kafka.tls.{name}`")
    return problems
