"""Local reads that decode straight from the page cache (mappings of the
chunk files kept across reads), fresh outputs from the buffer pool, runs
instead of per-point tables, one chunk's decode split over threads, and the
compressed level of the cache: same answers as numpy, clean errors or new
data when files change under the reader, never a crash."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

import fastchunk
from fastchunk import _core


def _data(shape: tuple[int, ...], seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.sin(np.arange(int(np.prod(shape))) / 300.0).reshape(shape) * 100
    return (base + rng.standard_normal(shape)).astype("f4")


def _blosc_store(path: Path, data: np.ndarray, chunks: tuple[int, ...], blocksize: int = 0) -> Path:
    comp = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=blocksize)
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=chunks, dtype=data.dtype,
                        zarr_format=2, compressor=comp)
    z[:] = data
    return path


def _zstd_store(path: Path, data: np.ndarray, chunks: tuple[int, ...], shards=None) -> Path:
    z = zarr.create_array(path, shape=data.shape, chunks=chunks, shards=shards, dtype=data.dtype)
    z[:] = data
    return path


@pytest.fixture
def maps_on():
    if not sys.platform.startswith("linux"):
        pytest.skip("files are mapped on Linux only")
    _core.set_map_size(1 << 30)
    _core.clear_maps()
    yield
    _core.clear_maps()


def test_large_chunks_are_read_through_kept_mappings(tmp_path: Path, maps_on: None) -> None:
    data = _data((6, 8, 20000))  # 640 kB chunks
    a = fastchunk.open(_blosc_store(tmp_path / "b.zarr", data, (1, 8, 20000)))
    before = _core.map_info()
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(a.take([5, 0, 5]), data[[5, 0, 5]])
    after = _core.map_info()
    assert after["maps"] - before["maps"] == 6  # one per file, made once
    assert after["hits"] - before["hits"] == 2  # chunks 5 and 0, once each
    _core.set_map_size(0)  # off: the same answers through pread
    np.testing.assert_array_equal(a[2:4], data[2:4])
    assert _core.map_info()["mappings"] == 0


@pytest.mark.parametrize("mapping", [True, False])
def test_files_rewritten_or_truncated_under_readers_never_crash(
    tmp_path: Path, mapping: bool
) -> None:
    """Threads read while others truncate, rewrite and restore chunk files:
    every read returns the old or the new data or raises a clean error; the
    process never dies of SIGBUS."""
    _core.set_map_size((1 << 30) if mapping else 0)
    _core.clear_maps()
    old, new = _data((8, 8, 20000), 1), _data((8, 8, 20000), 2)
    path = _blosc_store(tmp_path / "b.zarr", old, (1, 8, 20000))
    originals = {p: p.read_bytes() for p in path.glob("[0-9]*")}
    replaced = {}
    for p in originals:
        tmp = _blosc_store(tmp_path / "n.zarr", new, (1, 8, 20000)) / p.name
        replaced[p] = tmp.read_bytes()
    a = fastchunk.open(path)
    stop = threading.Event()
    problems: list[BaseException] = []

    def read() -> None:
        rng = np.random.default_rng()
        while not stop.is_set():
            i = int(rng.integers(8))
            try:
                got = a[i]
            except fastchunk.FastchunkError:
                continue  # a clean error naming the chunk
            except BaseException as e:  # noqa: BLE001 - anything else is a failure
                problems.append(e)
                return
            if not (np.array_equal(got, old[i]) or np.array_equal(got, new[i])):
                problems.append(AssertionError(f"date {i}: neither the old nor the new data"))
                return

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        rng = np.random.default_rng(9)
        for _ in range(300):
            p = list(originals)[int(rng.integers(len(originals)))]
            with open(p, "r+b") as f:  # in place: the same inode, shrinking and growing
                f.truncate(int(rng.integers(0, 1000)))
                f.seek(0)
                f.write((replaced if rng.random() < 0.5 else originals)[p])
                f.truncate()
    finally:
        stop.set()
        for t in threads:
            t.join()
        _core.clear_maps()
    assert not problems, problems[0]
    for p, b in originals.items():
        p.write_bytes(b)
    np.testing.assert_array_equal(a[...], old)


def test_a_mapped_file_truncated_between_reads_is_read_again(tmp_path: Path, maps_on: None) -> None:
    data = _data((2, 8, 20000))
    path = _blosc_store(tmp_path / "b.zarr", data, (1, 8, 20000))
    a = fastchunk.open(path)
    np.testing.assert_array_equal(a[1], data[1])  # mapped now
    chunk = path / "1.0.0"
    stored = chunk.read_bytes()
    os.truncate(chunk, 100)
    with pytest.raises(fastchunk.ChunkDecodeError, match="1.0.0"):
        a[1]
    chunk.write_bytes(stored)
    np.testing.assert_array_equal(a[1], data[1])


def test_fresh_outputs_come_from_the_pool_and_never_share_memory(tmp_path: Path) -> None:
    data = _data((6, 8, 20000))
    a = fastchunk.open(_zstd_store(tmp_path / "z.zarr", data, (1, 8, 20000)))
    first = a[0:4]
    info = _core.buffer_pool_info()
    second = a[0:4]  # `first` is alive: other memory
    assert not np.shares_memory(first, second)
    del second
    third = a.take([5, 4, 3, 2])  # the same size: the buffer given back is reused
    assert _core.buffer_pool_info()["reused"] > info["reused"]
    np.testing.assert_array_equal(first, data[0:4])
    np.testing.assert_array_equal(third, data[[5, 4, 3, 2]])
    assert third.flags.writeable and third.flags.c_contiguous and third.flags.owndata is False
    third[...] = 0  # the caller's to write
    np.testing.assert_array_equal(a[5], data[5])


def test_runs_read_like_tables(tmp_path: Path) -> None:
    """Slices, whole axes and reversed steps go to the core as runs;
    read_orthogonal takes ranges too."""
    data = _data((9, 7, 3000))
    a = fastchunk.open(_zstd_store(tmp_path / "z.zarr", data, (2, 3, 700)))
    for sel in [np.s_[::-1, 1:6:2, ::-7], np.s_[3, :, 2999:0:-499], np.s_[..., 5:2000:3]]:
        np.testing.assert_array_equal(a[sel], data[sel])
    out = np.empty((3, 7, 10), dtype="f4")
    a.read_orthogonal([range(8, 1, -3), range(7), np.arange(10) * 300], out)
    np.testing.assert_array_equal(out, data[8:1:-3][:, :, ::300][:, :, :10])
    with pytest.raises(IndexError):
        a.read_orthogonal([range(0, 10), range(7), range(3000)], np.empty((10, 7, 3000), "f4"))


@pytest.mark.parametrize("store", ["blosc", "zstd-frames"])
def test_one_chunk_split_over_threads_reads_the_same(tmp_path: Path, store: str) -> None:
    data = _data((3, 16, 30000))  # 1.9 MB chunks
    if store == "blosc":
        a = fastchunk.open(_blosc_store(tmp_path / "b.zarr", data, (1, 16, 30000), 65536))
    else:
        # zstd with several frames per chunk: numcodecs' Zstd writes one, so
        # the chunk files are rewritten as two concatenated frames.
        path = _zstd_store(tmp_path / "z.zarr", data, (1, 16, 30000))
        comp = numcodecs.Zstd(3)
        for d in range(3):
            raw = data[d].tobytes()
            half = len(raw) // 2
            (path / "c" / str(d) / "0" / "0").write_bytes(
                comp.encode(raw[:half]) + comp.encode(raw[half:])
            )
        a = fastchunk.open(path)
    for threads in (1, 2, 3):
        for d in range(3):
            np.testing.assert_array_equal(a.take([d], num_threads=threads), data[[d]])


@pytest.mark.usefixtures("cache_off")
def test_compressed_level_keeps_copied_reads_and_sees_rewrites(tmp_path: Path) -> None:
    _core.set_map_size(0)  # every read copies: what the compressed level keeps
    try:
        data = _data((5, 8, 20000))
        path = _blosc_store(tmp_path / "b.zarr", data, (1, 8, 20000))
        a = fastchunk.open(path)
        fastchunk.set_cache_size("64MB", compressed=True)
        np.testing.assert_array_equal(a[...], data)
        info = fastchunk.get_cache_info()["compressed"]
        assert info["entries"] == 5 and info["used"] == sum(
            p.stat().st_size for p in path.glob("[0-9]*")
        )
        np.testing.assert_array_equal(a[1:3], data[1:3])
        assert fastchunk.get_cache_info()["compressed"]["hits"] - info["hits"] == 2
        # A rewritten chunk is read again.
        other = _data((5, 8, 20000), 11)
        new = _blosc_store(tmp_path / "n.zarr", other, (1, 8, 20000))
        os.replace(new / "2.0.0", path / "2.0.0")
        np.testing.assert_array_equal(a[2], other[2])
        fastchunk.set_cache_size(1000, compressed=True)  # smaller than a chunk: emptied
        assert fastchunk.get_cache_info()["compressed"]["entries"] == 0
    finally:
        fastchunk.set_cache_size(0, compressed=True)
        fastchunk.clear_cache(compressed=True)
        _core.set_map_size(1 << 30)


def test_fastchunk_cache_reports_the_in_memory_levels_of_live_processes(tmp_path: Path) -> None:
    env = dict(os.environ, FASTCHUNK_SHM_DIR=str(tmp_path))
    script = (
        "import fastchunk, sys; fastchunk.set_cache_size('32MB', compressed=True); "
        "fastchunk.set_cache_size('16MB'); print('ready', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        shown = subprocess.run([sys.executable, "-m", "fastchunk", "cache"], env=env,
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert f"process {proc.pid}" in shown.stdout
        assert "compressed 0 B of 32.0 MB" in shown.stdout
        assert "decoded    0 B of 16.0 MB" in shown.stdout
    finally:
        proc.communicate("", timeout=60)
    # Gone with its process.
    shown = subprocess.run([sys.executable, "-m", "fastchunk", "cache"], env=env,
                           capture_output=True, text=True, timeout=60)
    assert f"process {proc.pid}" not in shown.stdout
    assert not list(tmp_path.glob("fastchunk-process-*"))


REPLACED_HANDLER = r"""
import os, sys, threading, time
import numpy as np
import fastchunk
from fastchunk import _core

path, who = sys.argv[1], sys.argv[2]
_core.set_map_size(1 << 30)
a = fastchunk.open(path)
expected = a[...]  # the chunk files are mapped, and the SIGBUS guard installed
if who == "faulthandler":
    import faulthandler
    faulthandler.enable()
else:  # what a DataLoader worker does when it starts
    from torch.utils.data._utils.signal_handling import _set_worker_signal_handlers
    _set_worker_signal_handlers()
files = sorted(p for p in os.listdir(path) if p[0].isdigit())
stored = {p: open(os.path.join(path, p), "rb").read() for p in files}
stop = time.monotonic() + 3

def cut():
    # In place, and with the times put back (as rsync -t does): the kept
    # mappings stay the ones reads use, and keep faulting.
    i = 0
    while time.monotonic() < stop:
        p = os.path.join(path, files[i % len(files)])
        st = os.stat(p)
        with open(p, "r+b") as f:
            f.truncate(100)
            time.sleep(0.001)
            f.seek(0)
            f.write(stored[files[i % len(files)]])
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        i += 1

threading.Thread(target=cut, daemon=True).start()
reads = 0
while time.monotonic() < stop:
    for i in range(len(files)):
        try:
            a[i]
        except fastchunk.FastchunkError:
            pass
        reads += 1
print("reads", reads)
"""


@pytest.mark.parametrize("who", ["faulthandler", "torch"])
def test_the_sigbus_guard_stays_in_front_of_handlers_installed_after_it(
    tmp_path: Path, who: str
) -> None:
    """faulthandler (pytest enables it) or a DataLoader worker's handlers,
    installed after the first read, took SIGBUS from kept mappings: a file
    cut short during a read killed the process (4 of 4 runs)."""
    if who == "torch":
        pytest.importorskip("torch")
    path = _blosc_store(tmp_path / "b.zarr", _data((4, 8, 20000)), (1, 8, 20000))
    got = subprocess.run([sys.executable, "-c", REPLACED_HANDLER, str(path), who],
                         capture_output=True, text=True, timeout=120)
    assert got.returncode == 0, (got.returncode, got.stderr[-2000:])
    assert "reads" in got.stdout
