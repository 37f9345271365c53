"""The baseline: the same transform written the obvious way.

json module, dicts, and a Python loop over the rules for every event. This is
what a first version of such a tool looks like; the benchmarks run it side by
side with ``Processor.process`` on the same batches.

As a whole process (``bench/offline.py`` runs it so, next to ``auditpipe filter``)::

    python -m bench.naive --policy POLICY FILE > kept.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

LEVELS = ["None", "Metadata", "Request", "RequestResponse"]


def _rule_matches(rule: dict[str, Any], ev: dict[str, Any]) -> bool:
    user = ev.get("user") or {}
    name = user.get("username")
    groups = user.get("groups") or []
    nil = not name and not groups
    if rule.get("users") and (nil or name not in rule["users"]):
        return False
    if rule.get("userGroups") and (nil or not any(g in rule["userGroups"] for g in groups)):
        return False
    if rule.get("verbs") and ev["verb"] not in rule["verbs"]:
        return False
    ref = ev.get("objectRef")
    if rule.get("namespaces") or rule.get("resources"):
        if ref is None:
            return False
        if rule.get("namespaces") and ref.get("namespace", "") not in rule["namespaces"]:
            return False
        if not rule.get("resources"):
            return True
        res, sub = ref.get("resource", ""), ref.get("subresource", "")
        combined = res + "/" + sub if sub else res
        for gr in rule["resources"]:
            if gr.get("group", "") not in (ref.get("apiGroup", ""), "*"):
                continue
            if not gr.get("resources"):
                return True
            for pattern in gr["resources"]:
                if gr.get("resourceNames") and ref.get("name", "") not in gr["resourceNames"]:
                    continue
                if (
                    pattern in (combined, "*")
                    or (pattern.startswith("*/") and sub and pattern[2:] == sub)
                    or (pattern.endswith("/*") and pattern[:-2] == res)
                ):
                    return True
        return False
    if rule.get("nonResourceURLs"):
        if ref is not None:
            return False
        path = ev["requestURI"].split("?")[0]
        return any(
            u == "*" or u == path or (u.endswith("*") and path.startswith(u.rstrip("*")))
            for u in rule["nonResourceURLs"]
        )
    return True


def naive_process(lines: list[bytes], policy: dict[str, Any], cluster: str = "") -> list[bytes]:
    out = []
    rules = policy["rules"]
    omit = set(policy.get("omitStages") or [])
    for i, raw in enumerate(lines):
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        for index, rule in enumerate(rules):  # noqa: B007 - index is used after the loop
            if _rule_matches(rule, ev):
                break
        else:
            continue
        if rule["level"] == "None" or ev["stage"] in omit | set(rule.get("omitStages") or []):
            continue
        rank = min(LEVELS.index(rule["level"]), LEVELS.index(ev["level"]))
        if rank < 2:
            ev.pop("requestObject", None)
        if rank < 3:
            ev.pop("responseObject", None)
        omf = rule.get("omitManagedFields", policy.get("omitManagedFields", False))
        if omf:
            for key in ("requestObject", "responseObject"):
                body = ev.get(key)
                if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
                    body["metadata"].pop("managedFields", None)
        annotations = ev.get("annotations") or {}
        annotations.update(
            {
                "auditpipe.io/rule": str(index),
                "auditpipe.io/original-level": ev["level"],
                "auditpipe.io/source": f"bench:{i}",
                "auditpipe.io/cluster": cluster,
            }
        )
        ev["annotations"] = annotations
        ev["level"] = LEVELS[rank]
        out.append(json.dumps(ev, separators=(",", ":")).encode())
    return out


def main(argv: list[str] | None = None) -> None:
    """Filter FILE (JSON lines) with the policy; write the kept events to stdout, one per line."""
    import yaml

    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=main.__doc__)
    parser.add_argument("--policy", type=Path, required=True, help="audit.k8s.io/v1 Policy (YAML or JSON)")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    policy = yaml.safe_load(args.policy.read_text())
    out = sys.stdout.buffer
    # Batches of 1,000, as the in-process benchmark feeds it, so memory stays flat on big files.
    chunk: list[bytes] = []
    with args.file.open("rb") as f:
        for line in f:
            chunk.append(line)
            if len(chunk) == 1000:
                out.writelines(kept + b"\n" for kept in naive_process(chunk, policy))
                chunk = []
    out.writelines(kept + b"\n" for kept in naive_process(chunk, policy))


if __name__ == "__main__":
    main()
