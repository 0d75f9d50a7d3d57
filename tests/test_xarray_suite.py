"""xarray's own zarr backend tests with every read through engine="fastchunk"
(tests/xarray_engine_suite.py, run by scripts/run_suite.sh xarray-engine):
every test that passes with engine="zarr" passes with engine="fastchunk" or
is skipped with a stated reason, and the counts of both are printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("xarray")
pytest.importorskip("zarr")
pytest.importorskip("dask")
pytest.importorskip("pytest_asyncio")
sys.path.insert(0, str(ROOT / "scripts"))
from xarray_engine_report import compare, table  # noqa: E402


def test_xarray_backend_tests_pass_with_engine_fastchunk(capsys: pytest.CaptureFixture) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("ZARR_CODEC_PIPELINE__PATH", None)
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "run_suite.sh"), "xarray-engine", "default"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500,
    )
    report = ROOT / "build" / "suites" / "xarray-engine-default.json"
    result = compare(json.loads(report.read_text())["tests"])
    with capsys.disabled():  # the counts of both engines, in the test log
        print("\n" + table(result))
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert result.ok, tail
    for ours, theirs in (("TestFastchunkDirectoryStore", "TestZarrDirectoryStore"),
                         ("TestFastchunkDirectoryStoreNotConsolidated", "TestZarrDirectoryStore")):
        assert result.counts[theirs]["passed"] > 250, tail
        # The redirect works: nearly every passing test read through fastchunk.
        assert result.read_through_fastchunk[ours] > 0.85 * result.counts[ours]["passed"], tail
