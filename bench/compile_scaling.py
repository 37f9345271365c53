"""Matcher compile time and peak memory against policy size, each in a fresh process.

    python -m bench.compile_scaling [--sizes 20000,40000,80000,100000]
                                    [--policies realistic,distinct,same,decoys]
                                    [--impl c|py] [--timeout 120] [--json bench/results/compile.json]

For every (policy, size) this process generates the rules (``bench.policies``) and hands them to
a child as a pickle, so that the child's memory holds the rules but not what generating them took
(``decoys`` goes through the whole policy loader). The child times ``Matcher(rules)`` alone. It
reports the compile time, the process's RSS before compiling (the interpreter plus the rules
themselves) and its peak RSS over the whole run (``VmHWM``), so the
compile's own share is peak minus before. A child that runs past ``--timeout`` is stopped and
reported as such.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _status_mb(key: str) -> float:
    # VmRSS: resident now; VmHWM: peak resident of this program. (ru_maxrss would also count the
    # parent's pages this child inherited between fork and exec.)
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _child(rules_file: str, impl: str) -> None:
    import gc
    import pickle

    with open(rules_file, "rb") as f:
        policy, size, rules = pickle.load(f)
    if impl == "c":
        from _fastmatch._matcher_c import CMatcher as cls
    else:
        from _fastmatch import PyMatcher as cls
    gc.collect()
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    matcher = cls(rules)
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    assert len(matcher) == size
    print(
        json.dumps(
            {
                "policy": policy,
                "rules": size,
                "impl": impl,
                "compile_s": round(seconds, 3),
                "rss_before_mb": round(before, 1),
                "peak_rss_mb": round(peak, 1),
            }
        )
    )


def measure(policy: str, size: int, impl: str, timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter."""
    from bench.policies import GENERATORS

    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.pickle"
        rules_file.write_bytes(pickle.dumps((policy, size, GENERATORS[policy](size, 0))))
        cmd = [sys.executable, "-m", "bench.compile_scaling", "--child", str(rules_file), impl]
        return _run(cmd, policy, size, impl, timeout)


def _run(cmd: list[str], policy: str, size: int, impl: str, timeout: float) -> dict[str, Any]:
    try:
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"policy": policy, "rules": size, "impl": impl, "timeout_s": timeout}
    except subprocess.CalledProcessError as exc:
        return {"policy": policy, "rules": size, "impl": impl, "error": exc.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _row(r: dict[str, Any]) -> str:
    if "timeout_s" in r:
        return f"| {r['policy']} | {r['rules']:,} | > {r['timeout_s']:.0f} s (stopped) | | |"
    if "error" in r:
        return f"| {r['policy']} | {r['rules']:,} | error: {r['error']} | | |"
    return (
        f"| {r['policy']} | {r['rules']:,} | {r['compile_s']:.2f} s | {r['peak_rss_mb']:.0f} MB "
        f"| {r['rss_before_mb']:.0f} MB |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="20000,40000,80000,100000")
    parser.add_argument("--policies", default="realistic,distinct,same,decoys")
    parser.add_argument("--impl", default="c", choices=("c", "py"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1])
        return
    results = []
    print("| policy | rules | compile | peak RSS | RSS before compile (rules loaded) |")
    print("|---|---:|---:|---:|---:|")
    for policy in args.policies.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            r = measure(policy, size, args.impl, args.timeout)
            results.append(r)
            print(_row(r), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
