"""pytest plugin for running zarr-python's and xarray's own test suites with
fastchunk's codec pipeline: records, test by test, how many arrays zarr
created through the pipeline and how many reads the core served or handed to
zarr's default pipeline (with the reasons), and writes them as JSON to
$FASTCHUNK_SUITE_REPORT at the end.

    PYTHONPATH=scripts python -m pytest -p pipeline_suite_plugin ...
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

_records: dict[str, dict[str, Any]] = {}


def _snapshot() -> dict[str, Any]:
    try:
        from fastchunk.zarr.pipeline_stats import stats
    except ImportError:
        return {}
    return stats()


def _delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in after.items():
        if k == "fallback_reasons":
            old = before.get(k, {})
            diff = {r: n - old.get(r, 0) for r, n in v.items() if n - old.get(r, 0)}
            if diff:
                out[k] = diff
        elif v - before.get(k, 0):
            out[k] = v - before.get(k, 0)
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    before = _snapshot()
    yield
    rec = _records.setdefault(item.nodeid, {})
    rec.update(_delta(before, _snapshot()))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Any:
    outcome = yield
    report = outcome.get_result()
    rec = _records.setdefault(item.nodeid, {})
    if report.when == "call" or report.outcome != "passed":
        if report.outcome != "passed" or "outcome" not in rec:
            rec["outcome"] = report.outcome if not hasattr(report, "wasxfail") else "xfail"
            if report.skipped and isinstance(report.longrepr, tuple):
                rec["reason"] = str(report.longrepr[2])
    # What a test recorded (request.node.user_properties), e.g. the opens
    # tests/xarray_engine_suite.py counts.
    rec.update({str(k): v for k, v in item.user_properties})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get("FASTCHUNK_SUITE_REPORT")
    if not path:
        return
    with open(path, "w") as f:
        json.dump({"pipeline": os.environ.get("ZARR_CODEC_PIPELINE__PATH", "default"),
                   "tests": _records}, f, indent=1, sort_keys=True)
