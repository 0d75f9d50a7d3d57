"""Fresh read outputs (a[i], take(idx)) that the caller keeps: each one new
memory, of normal pages whatever the machine's transparent-huge-page
setting, populated in bulk (beside the read's decoding), never shared with
another output; freed ones kept for reuse within a budget, given back to the
OS when the pool shrinks, and shown by `fastchunk cache`."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import zarr

import fastchunk
from fastchunk import _core

MB = 1 << 20


def _mapping_of(arr: np.ndarray) -> dict[str, str]:
    """The /proc/self/smaps entry of the mapping holding arr's first byte."""
    at = arr.ctypes.data
    entry: dict[str, str] = {}
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and ":" not in head:
            lo, hi = (int(x, 16) for x in head.split("-"))
            if inside:
                break
            inside = lo <= at < hi
            continue
        if inside:
            key, _, value = line.partition(":")
            entry[key] = value.strip()
    return entry


def _store(path: Path, dates: int = 12) -> tuple[Path, np.ndarray]:
    data = (np.arange(dates * 8 * 40000, dtype="f4") % 977).reshape(dates, 8, 40000)
    z = zarr.create_array(path, shape=data.shape, chunks=(1, 8, 40000), dtype=data.dtype)
    z[:] = data
    return path, data


def _kb(field: str) -> int:
    return int(field.split()[0])


def test_with_one_thread_a_fresh_output_is_populated_at_once_with_normal_pages() -> None:
    _core.clear_buffer_pool_()
    threads = fastchunk.get_num_threads()
    fastchunk.set_num_threads(1)
    try:
        out = _core.empty((3 * MB + 4321,), np.uint8)  # nothing in the pool: fresh memory
    finally:
        fastchunk.set_num_threads(threads)
    m = _mapping_of(out)
    assert "nh" in m["VmFlags"].split(), m["VmFlags"]  # MADV_NOHUGEPAGE: THP never/madvise/always
    assert "hg" not in m["VmFlags"].split()
    assert m["AnonHugePages"] == "0 kB"
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    out.fill(1)
    # Populated: no fault left for the decode; unpopulated there would be one
    # per 4 KiB page (AddressSanitizer's shadow memory takes one per 8 pages).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < out.nbytes // 4096 // 4


def test_with_threads_the_read_into_a_fresh_output_populates_it_alongside(tmp_path: Path) -> None:
    """With more than one thread a fresh output is left for the read that
    fills it: idle threads populate its pages while the read decodes."""
    path, data = _store(tmp_path / "a.zarr", dates=24)
    a = fastchunk.open_array(path)
    threads = fastchunk.get_num_threads()
    fastchunk.set_num_threads(2)
    try:
        _core.clear_buffer_pool_()
        idx = [17, 3, 3, 22, 0, 9, 11, 5]
        out = _core.empty((len(idx), *data.shape[1:]), data.dtype)  # fresh: nothing pooled
        assert out.nbytes > 8 * MB
        m = _mapping_of(out)
        assert "nh" in m["VmFlags"].split(), m["VmFlags"]
        assert _kb(m["Rss"]) < out.nbytes // 1024 // 8  # not populated yet
        a.take(idx, out=out)
        m = _mapping_of(out)
        assert _kb(m["Rss"]) * 1024 >= out.nbytes  # every page present, normal ones
        assert m["AnonHugePages"] == "0 kB"
        np.testing.assert_array_equal(out, data[idx])
        # Kept single-date reads: each a fresh output populated beside its decode.
        kept = [a[i] for i in range(len(data)) for _ in range(2)]
        for k, x in enumerate(kept):
            np.testing.assert_array_equal(x, data[k // 2])
    finally:
        fastchunk.set_num_threads(threads)


def test_kept_outputs_are_new_memory_and_freed_ones_are_reused(tmp_path: Path) -> None:
    path, data = _store(tmp_path / "a.zarr")
    a = fastchunk.open_array(path)
    _core.clear_buffer_pool_()
    info = _core.buffer_pool_info()
    kept = [a[i] for i in (5, 3, 5, 11, 0, 7)]
    for x, i in zip(kept, (5, 3, 5, 11, 0, 7), strict=True):
        np.testing.assert_array_equal(x, data[i])
    assert len({x.ctypes.data for x in kept}) == len(kept)
    after = _core.buffer_pool_info()
    assert after["made"] - info["made"] == len(kept)
    assert after["made_bytes"] - info["made_bytes"] >= sum(x.nbytes for x in kept)
    del kept, x
    assert _core.buffer_pool_info()["kept_buffers"] == 6
    again = [a.take([i]) for i in (1, 2)]
    assert _core.buffer_pool_info()["reused"] - after["reused"] == 2
    np.testing.assert_array_equal(again[1][0], data[2])


def _run(code: str, env: dict[str, str]) -> str:
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_the_pool_budget_bounds_what_it_keeps_and_releases_the_rest(tmp_path: Path) -> None:
    path, _ = _store(tmp_path / "a.zarr")
    env = dict(os.environ, FASTCHUNK_BUFFER_POOL_BYTES=str(4 * MB))
    code = (
        "import fastchunk, json; from fastchunk import _core\n"
        f"a = fastchunk.open_array({str(path)!r})\n"
        "kept = [a[i] for i in range(6)]\n"  # 1.28 MB each
        "del kept\n"
        "print(json.dumps(fastchunk.get_cache_info()['buffer_pool']))\n"
    )
    import json

    pool = json.loads(_run(code, env).strip().splitlines()[-1])
    assert pool["budget"] == 4 * MB
    assert pool["kept_bytes"] <= 4 * MB and pool["kept_buffers"] == 3
    assert pool["released"] == 3


def test_fastchunk_cache_shows_a_process_whose_pool_keeps_memory(tmp_path: Path) -> None:
    path, _ = _store(tmp_path / "a.zarr", dates=80)
    env = dict(os.environ, FASTCHUNK_SHM_DIR=str(tmp_path / "shm"))
    script = (
        "import fastchunk, sys\n"
        f"a = fastchunk.open_array({str(path)!r})\n"
        "small = [a[i] for i in range(10)]\n"
        "del small\n"  # 12.8 MB kept: no page yet
        "print('small', flush=True); sys.stdin.readline()\n"
        "kept = [a[i:i + 2] for i in range(0, 80, 2)]\n"
        "del kept\n"  # 40 outputs of 2.56 MB (the pool keeps 64 buffers at most)
        "print('ready', flush=True); sys.stdin.read()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "small"
        shown = _run("from fastchunk.tools.cli import main; main(['cache'])", env)
        assert f"process {proc.pid}" not in shown
        assert proc.stdin is not None
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ready"
        shown = _run("from fastchunk.tools.cli import main; main(['cache'])", env)
        assert f"process {proc.pid}" in shown
        line = next(x for x in shown.splitlines() if x.strip().startswith("buffers"))
        assert "50 buffers" in line and "made 50" in line, line
    finally:
        proc.communicate("", timeout=60)
    assert not list((tmp_path / "shm").glob("fastchunk-process-*"))  # gone with its process
