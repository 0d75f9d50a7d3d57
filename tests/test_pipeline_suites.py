"""zarr-python's and xarray's own tests, run with fastchunk's codec pipeline
(a bounded subset of each; scripts/run_suite.sh runs them whole). A test that passes with zarr's
default pipeline must pass with fastchunk's, and fastchunk's pipeline must
serve at least 90% of the tests that create arrays."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
pytest.importorskip("zarr")
pytest.importorskip("pytest_asyncio")


def _run(suite: str, pipeline: str) -> tuple[int, dict, str]:
    env = {**os.environ, "PYTHON": sys.executable}
    env.pop("ZARR_CODEC_PIPELINE__PATH", None)
    proc = subprocess.run(["bash", str(SCRIPTS / "run_suite.sh"), suite, pipeline, "--subset"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = json.loads((ROOT / "build" / "suites" / f"{suite}-{pipeline}.json").read_text())
    return proc.returncode, report["tests"], proc.stdout[-3000:] + proc.stderr[-3000:]


def _served(tests: dict) -> float:
    created = [r for r in tests.values() if r.get("arrays_native", 0) + r.get("arrays_fallback", 0)]
    served = [r for r in created if not r.get("arrays_fallback") and not r.get("reads_fallback")]
    return len(served) / max(1, len(created))


def _passed(tests: dict) -> set[str]:
    # Ids holding object reprs differ between runs only by the address.
    return {re.sub(r" at 0x[0-9a-f]+", "", k) for k, r in tests.items()
            if r.get("outcome") == "passed"}


def test_zarr_suite_subset_with_fastchunk_pipeline() -> None:
    rc, tests, tail = _run("zarr", "fastchunk")
    assert rc == 0, tail
    assert len(_passed(tests)) > 1000, tail
    assert _served(tests) >= 0.9, tail


def test_xarray_zarr_backend_subset_with_fastchunk_pipeline() -> None:
    pytest.importorskip("xarray")
    _, base, _ = _run("xarray", "default")
    _, tests, tail = _run("xarray", "fastchunk")
    lost = sorted(_passed(base) - _passed(tests))
    assert not lost, f"passed with zarr's default pipeline, not with fastchunk's: {lost}\n{tail}"
    assert len(_passed(tests)) > 200, tail
    assert _served(tests) >= 0.9, tail
