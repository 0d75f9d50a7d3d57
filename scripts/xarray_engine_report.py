"""Compares engine="fastchunk" with engine="zarr" on xarray's own zarr backend
tests, from the JSON that pipeline_suite_plugin wrote for a run of
tests/xarray_engine_suite.py: outcome counts of each class, the tests that
passed with engine="zarr" and not with engine="fastchunk" (each must be
skipped with a stated reason), and how many tests read through fastchunk.

    python scripts/xarray_engine_report.py build/suites/xarray-engine-default.json

Exits 1 when a test that passed with engine="zarr" neither passed nor was
skipped with a reason with engine="fastchunk".
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

# The classes compared: fastchunk's -> engine="zarr"'s (tests/xarray_engine_suite.py).
BASELINES = {
    "TestFastchunkDirectoryStore": "TestZarrDirectoryStore",
    "TestFastchunkDirectoryStoreNotConsolidated": "TestZarrDirectoryStore",
}
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
OUTCOMES = ("passed", "failed", "skipped", "xfail", "error")


@dataclass
class Comparison:
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    lost: list[tuple[str, str]] = field(default_factory=list)  # (test, its outcome here)
    skipped_here: list[tuple[str, str]] = field(default_factory=list)  # (test, reason)
    read_through_fastchunk: dict[str, int] = field(default_factory=dict)  # passed tests per class

    @property
    def ok(self) -> bool:
        return not self.lost


def _split(nodeid: str) -> tuple[str, str] | None:
    parts = _ADDRESS.sub("", nodeid).split("::")
    return (parts[-2], parts[-1]) if len(parts) >= 3 else None


def compare(tests: dict[str, dict[str, Any]]) -> Comparison:
    by_class: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for nodeid, rec in tests.items():
        where = _split(nodeid)
        if where:
            by_class[where[0]][where[1]] = rec
    out = Comparison()
    for cls, recs in sorted(by_class.items()):
        out.counts[cls] = Counter(r.get("outcome", "unknown") for r in recs.values())
    for ours, theirs in BASELINES.items():
        here, base = by_class.get(ours, {}), by_class.get(theirs, {})
        out.read_through_fastchunk[ours] = sum(
            1 for r in here.values() if r.get("outcome") == "passed" and r.get("fastchunk_opens")
        )
        for test, rec in sorted(base.items()):
            if rec.get("outcome") != "passed":
                continue
            got = here.get(test, {})
            outcome = got.get("outcome", "not run")
            if outcome == "passed":
                continue
            reason = got.get("reason", "")
            if outcome == "skipped" and "engine='fastchunk'" in reason:
                out.skipped_here.append((f"{ours}::{test}", reason))
            else:
                out.lost.append((f"{ours}::{test}", outcome))
    return out


def table(c: Comparison) -> str:
    head = f"{'class':46s} " + " ".join(f"{o:>7s}" for o in OUTCOMES)
    lines = [head, "-" * len(head)]
    for cls, counts in c.counts.items():
        lines.append(f"{cls:46s} " + " ".join(f"{counts.get(o, 0):7d}" for o in OUTCOMES))
    for ours, n in c.read_through_fastchunk.items():
        lines.append(f"{ours}: {n} passed tests read through engine='fastchunk'")
    lines.append(f"passed with engine='zarr', skipped with engine='fastchunk': "
                 f"{len(c.skipped_here)}")
    lines += [f"  {t}: {r}" for t, r in c.skipped_here]
    lines.append(f"passed with engine='zarr', not with engine='fastchunk': {len(c.lost)}")
    lines += [f"  {t}: {o}" for t, o in c.lost]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("report")
    args = p.parse_args()
    c = compare(json.load(open(args.report))["tests"])
    print(table(c))
    sys.exit(0 if c.ok else 1)


if __name__ == "__main__":
    main()
