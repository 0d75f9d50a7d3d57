"""Summarises the JSON a suite run with pipeline_suite_plugin wrote: outcomes,
how many tests created arrays, how many of those fastchunk's pipeline served
(every array native, no read handed back) and the fallback reasons.

    python scripts/pipeline_suite_report.py REPORT.json [--baseline OTHER.json]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter

# Test ids that hold object reprs differ between runs only by the address.
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _ids(tests: dict) -> dict:
    return {_ADDRESS.sub("", k): r for k, r in tests.items()}


def summary(path: str) -> dict:
    tests = json.load(open(path))["tests"]
    outcomes = Counter(r.get("outcome", "unknown") for r in tests.values())
    created = {k: r for k, r in tests.items()
               if r.get("arrays_native", 0) + r.get("arrays_fallback", 0)}
    served = [k for k, r in created.items()
              if not r.get("arrays_fallback") and not r.get("reads_fallback")]
    partly = [k for k, r in created.items()
              if k not in served and (r.get("arrays_native") or r.get("reads_native"))]
    reasons: Counter[str] = Counter()
    tests_by_reason: Counter[str] = Counter()
    for r in created.values():
        for reason, n in r.get("fallback_reasons", {}).items():
            reasons[reason] += n
            tests_by_reason[reason] += 1
    return {"tests": tests, "outcomes": outcomes, "created": created, "served": served,
            "partly": partly, "reasons": reasons, "tests_by_reason": tests_by_reason}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("report")
    p.add_argument("--baseline", help="a report of the same suite with the default pipeline")
    args = p.parse_args()
    s = summary(args.report)
    print("outcomes:", dict(s["outcomes"]))
    n = len(s["created"])
    if n:
        print(f"tests that created arrays: {n}; served entirely by fastchunk: {len(s['served'])} "
              f"({100 * len(s['served']) / n:.1f}%); partly: {len(s['partly'])}; "
              f"all by zarr's default pipeline: {n - len(s['served']) - len(s['partly'])}")
    for reason, t in s["tests_by_reason"].most_common():
        print(f"  fallback in {t} tests ({s['reasons'][reason]} times): {reason}")
    if args.baseline:
        base = _ids(json.load(open(args.baseline))["tests"])
        ours = _ids(s["tests"])
        lost = sorted(k for k, r in base.items() if r.get("outcome") == "passed"
                      and ours.get(k, {}).get("outcome") != "passed")
        print(f"passed with the baseline but not here: {len(lost)}")
        for k in lost:
            print("  ", k, ours.get(k, {}).get("outcome", "not run"))


if __name__ == "__main__":
    main()
