"""A short fuzzing run inside the test suite: every libFuzzer target in
tests/fuzz (built with clang, ASan and UBSan) replays its seed corpus and
every regress-* input that once crashed it, then fuzzes for a few seconds;
the metadata fuzzer runs a few hundred mutated documents. scripts/fuzz.sh is
the long run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FUZZ_DIR = ROOT / "tests" / "fuzz"
BUILD_DIR = ROOT / "build" / "fuzz"
TARGETS = sorted(p.stem for p in FUZZ_DIR.glob("fuzz_*.cc"))  # one target each
SECONDS = int(os.environ.get("FASTCHUNK_FUZZ_SECONDS", "2"))


@pytest.fixture(scope="module")
def fuzzers() -> Path:
    if shutil.which("clang++") is None:
        if os.environ.get("FASTCHUNK_REQUIRE_ALL_TESTS"):
            pytest.fail("clang++ is missing; scripts/setup.sh installs clang")
        pytest.skip("clang++ is not installed (scripts/setup.sh installs clang)")
    proc = subprocess.run(["bash", str(FUZZ_DIR / "build.sh"), str(BUILD_DIR)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return BUILD_DIR


def test_every_target_has_seeds() -> None:
    for target in TARGETS:
        assert (FUZZ_DIR / f"{target}.cc").is_file()
        seeds = list((FUZZ_DIR / "corpus" / target).glob("seed-*"))
        assert len(seeds) >= 4, target


@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target(fuzzers: Path, target: str, tmp_path: Path) -> None:
    corpus = FUZZ_DIR / "corpus" / target
    work = tmp_path / "corpus"  # new inputs go here, never into the repository
    work.mkdir()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    proc = subprocess.run(
        [str(fuzzers / target), f"-max_total_time={SECONDS}", "-timeout=10",
         "-rss_limit_mb=2048", "-malloc_limit_mb=512", "-print_final_stats=1",
         f"-artifact_prefix={tmp_path}/", str(work), str(corpus)],
        capture_output=True, text=True, timeout=SECONDS + 120, env=env,
    )
    log = proc.stderr
    assert proc.returncode == 0, log[-6000:]
    assert "ERROR:" not in log and "runtime error" not in log, log[-6000:]
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    assert runs and int(runs.group(1)) > len(list(corpus.iterdir())), log[-2000:]


def test_metadata_fuzzer(tmp_path: Path) -> None:
    sys.path.insert(0, str(FUZZ_DIR))
    try:
        import fuzz_metadata
    finally:
        sys.path.remove(str(FUZZ_DIR))
    cases, failures = fuzz_metadata.run(int(os.environ.get("FASTCHUNK_FUZZ_META", "300")),
                                        seed=20240611, workdir=tmp_path)
    report = "\n".join(f"[{f.seed} {f.doc_key}] {f.error}\n  {f.document[:300]!r}"
                       for f in failures)
    assert not failures, report
    assert cases == int(os.environ.get("FASTCHUNK_FUZZ_META", "300"))
