"""Concurrency and integrity under load: many Python threads on one Array,
DataLoader fork workers after the parent has read, KeyboardInterrupt during a
read, crc32c verified wherever a store has it, stores never written to, and
memory that stays flat over 10,000 reads."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import crc32c
import numcodecs
import numpy as np
import psutil
import pytest
import zarr
import zarr.codecs as zc

import fastchunk

# ------------------------------------------------------------------ fixtures

SHAPE = (48, 20, 36)


def expected_data() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.standard_normal(SHAPE) * 10).astype("f4")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same data as v2 blosc, v3 zstd sharded and v3 gzip + crc32c."""
    root = tmp_path_factory.mktemp("stress")
    data = expected_data()
    out = {
        "v2-blosc": root / "v2.zarr",
        "v3-sharded": root / "sharded.zarr",
        "v3-crc32c": root / "crc.zarr",
    }
    blosc = numcodecs.Blosc(cname="lz4", shuffle=1)
    zarr.create_array(str(out["v2-blosc"]), shape=SHAPE, chunks=(4, 10, 12), dtype="f4",
                      zarr_format=2, compressors=blosc)[...] = data
    zarr.create_array(str(out["v3-sharded"]), shape=SHAPE, chunks=(2, 5, 12),
                      shards=(8, 10, 36), dtype="f4")[...] = data
    zarr.create_array(str(out["v3-crc32c"]), shape=SHAPE, chunks=(5, 7, 9), dtype="f4",
                      compressors=[zc.GzipCodec(level=1), zc.Crc32cCodec()])[...] = data
    return out


def random_selection(rng: np.random.Generator) -> Any:
    """A small numpy-style selection: slices with steps, integers, one index list."""
    key: list[Any] = []
    for axis, n in enumerate(SHAPE):
        kind = rng.integers(0, 4)
        if kind == 0:
            key.append(int(rng.integers(-n, n)))
        elif kind == 1 and axis == 0:
            key.append(rng.integers(0, n, size=int(rng.integers(1, 5))).tolist())
        else:
            start = int(rng.integers(0, n))
            stop = int(rng.integers(start, min(n, start + 12) + 1))
            step = int(rng.choice([1, 1, 2, 3]))
            key.append(slice(start, stop, step) if rng.random() < 0.8 else slice(stop, None, -step))
    return tuple(key)


# ------------------------------------------------------------------ threads


@pytest.mark.parametrize("name", ["v2-blosc", "v3-sharded"])
def test_16_threads_x_1000_reads_equal_single_thread(stores: dict[str, Path], name: str) -> None:
    a = fastchunk.open(stores[name])
    data = expected_data()
    nthreads, nreads = 16, 1000
    rng = np.random.default_rng(11)
    plans = [[random_selection(rng) for _ in range(nreads)] for _ in range(nthreads)]
    single = [[a[key] for key in plan] for plan in plans]  # one Python thread
    for plan, answers in zip(plans[:2], single[:2], strict=True):
        for key, got in zip(plan, answers, strict=True):
            np.testing.assert_array_equal(got, data[key])

    mismatches: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(nthreads)

    def worker(t: int) -> None:
        try:
            barrier.wait()
            for i, key in enumerate(plans[t]):
                got = a[key]
                if not np.array_equal(got, single[t][i]):
                    mismatches.append(f"thread {t} read {i} {key}")
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(nthreads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a reader thread hung"
    assert not errors, errors[:3]
    assert not mismatches, mismatches[:5]


# ------------------------------------------------------------------ fork workers


class _Samples:
    """A map-style dataset of windows of 2 consecutive dates."""

    def __init__(self, array: fastchunk.Array) -> None:
        self.array = array

    def __len__(self) -> int:
        return self.array.shape[0] - 1

    def __getitem__(self, i: int) -> tuple[int, np.ndarray]:
        return i, self.array[i : i + 2, :, 3:30]


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("name", ["v2-blosc", "v3-sharded"])
def test_dataloader_fork_workers_after_parent_read(stores: dict[str, Path], name: str) -> None:
    DataLoader = pytest.importorskip("torch.utils.data").DataLoader  # noqa: N806

    data = expected_data()
    a = fastchunk.open(stores[name])
    np.testing.assert_array_equal(a[...], data)  # the parent's pool exists and is warm

    # Keep the parent's pool busy while the workers fork.
    stop = threading.Event()

    def parent_reads() -> None:
        while not stop.is_set():
            a[:, :, 5]

    busy = threading.Thread(target=parent_reads)
    busy.start()
    try:
        loader = DataLoader(_Samples(a), batch_size=5, shuffle=True, num_workers=4,
                            multiprocessing_context="fork", timeout=60,
                            persistent_workers=False)
        for _epoch in range(3):
            seen = []
            for idx, batch in loader:
                for i, sample in zip(idx.tolist(), batch, strict=True):
                    np.testing.assert_array_equal(sample.numpy(), data[i : i + 2, :, 3:30])
                    seen.append(i)
            assert sorted(seen) == list(range(len(data) - 1))
    finally:
        stop.set()
        busy.join(timeout=60)
    assert not busy.is_alive()
    np.testing.assert_array_equal(a[3], data[3])  # the parent still reads


# ------------------------------------------------------------------ KeyboardInterrupt

_INTERRUPTED = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import numpy as np
    import fastchunk

    # Python raises KeyboardInterrupt only where SIGINT was not ignored when it
    # started (a background job of a shell ignores it): install the handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    a = fastchunk.open(sys.argv[1])
    expected = a[...]
    interrupts = 0
    for delay in (0.0, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08):
        timer = threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT))
        try:
            timer.start()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                a[...]
                a.take(np.arange(a.shape[0])[::-1], axis=0)
        except KeyboardInterrupt:
            interrupts += 1
        timer.join()
        # Usable afterwards: same answers, every thread of the pool alive.
        assert np.array_equal(a[...], expected)
        assert np.array_equal(a[5:9, ::3], expected[5:9, ::3])
    print("interrupts", interrupts)
    """
)


def test_keyboard_interrupt_during_reads_leaves_process_usable(tmp_path: Path) -> None:
    path = tmp_path / "big.zarr"
    rows = np.arange(64 * 256 * 256, dtype="f4").reshape(64, 256, 256)  # 16 MiB
    zarr.create_array(str(path), shape=rows.shape, chunks=(4, 128, 256), dtype="f4",
                      zarr_format=2, compressors=numcodecs.Blosc(cname="lz4"))[...] = rows
    proc = subprocess.run([sys.executable, "-c", _INTERRUPTED, str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["interrupts", "8"], proc.stdout


# ------------------------------------------------------------------ integrity


def _flip(path: Path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x01
    path.write_bytes(bytes(raw))


def _every_read_fails(a: fastchunk.Array, key: str) -> None:
    selections = [(Ellipsis,), (0, 0, 0), (slice(0, 2), slice(None), 4), ([1, 0, 1],)]
    for sel in selections:
        with pytest.raises(fastchunk.ChunkDecodeError) as info:
            a[sel]
        assert f"'{key}'" in str(info.value)
    with pytest.raises(fastchunk.ChunkDecodeError):
        a.take([1, 0], axis=1)


@pytest.mark.parametrize("where", ["chunk-body", "chunk-checksum"])
def test_crc32c_checked_on_plain_chunks(tmp_path: Path, where: str) -> None:
    data = np.arange(4 * 6 * 5, dtype="i4").reshape(4, 6, 5)
    for chain in ([zc.Crc32cCodec()], [zc.ZstdCodec(), zc.Crc32cCodec()]):
        path = tmp_path / f"{len(chain)}-{where}.zarr"
        zarr.create_array(str(path), shape=data.shape, chunks=data.shape, dtype="i4",
                          compressors=chain)[...] = data
        chunk = path / "c" / "0" / "0" / "0"
        size = chunk.stat().st_size
        _flip(chunk, size - 2 if where == "chunk-checksum" else size // 2)
        a = fastchunk.open(path)
        _every_read_fails(a, "c/0/0/0")
        with pytest.raises(fastchunk.ChunkDecodeError, match="(?i)crc32c|checksum"):
            a[...]


@pytest.mark.parametrize("where", ["inner-chunk", "index"])
def test_crc32c_checked_in_shards(tmp_path: Path, where: str) -> None:
    data = np.arange(4 * 6 * 5, dtype="i4").reshape(4, 6, 5)
    path = tmp_path / "a.zarr"
    codec = zc.ShardingCodec(chunk_shape=(2, 3, 5), codecs=[zc.BytesCodec(), zc.Crc32cCodec()])
    zarr.create_array(str(path), shape=data.shape, chunks=data.shape, dtype="i4",
                      serializer=codec, compressors=None)[...] = data
    shard = path / "c" / "0" / "0" / "0"
    raw = shard.read_bytes()
    index_size = 16 * 4 + 4
    if where == "index":
        _flip(shard, len(raw) - index_size + 1)  # inside an entry's offset
    else:
        entries = np.frombuffer(raw[-index_size:-4], "<u8").reshape(-1, 2)
        offset, nbytes = (int(v) for v in entries[0])
        _flip(shard, offset + nbytes // 2)
    a = fastchunk.open(path)
    if where == "index":
        _every_read_fails(a, "c/0/0/0")
    else:
        with pytest.raises(fastchunk.ChunkDecodeError, match="(?i)crc32c|checksum"):
            a[0, 0, 0]  # inner chunk 0 holds element (0, 0, 0)
        np.testing.assert_array_equal(a[2:, 3:], data[2:, 3:])  # others verify and read
    assert crc32c.crc32c(b"123456789") == 0xE3069283  # the reference check value


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            st = p.stat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            out[str(p.relative_to(root))] = (st.st_mtime_ns, st.st_size, digest)
    return out


def test_reader_never_writes_to_the_store(tmp_path: Path, stores: dict[str, Path]) -> None:
    root = tmp_path / "stores"
    root.mkdir()
    g = zarr.open_group(str(root / "group.zarr"), mode="w", zarr_format=2)
    g.create_array("fallback", shape=(10, 10), chunks=(5, 5), dtype="i2",
                   compressors=numcodecs.BZ2(), fill_value=0)[...] = np.arange(100).reshape(10, 10)
    g.create_array("plain", shape=(7,), chunks=(3,), dtype="f8", fill_value=0)[...] = 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(root / "group.zarr"))
    everything = [root, *stores.values()]
    before = {str(p): _snapshot(p) for p in everything}

    rng = np.random.default_rng(3)
    for path in stores.values():
        a = fastchunk.open(path)
        for _ in range(50):
            a[random_selection(rng)]
        a.take([3, 1, 3], axis=0, out=np.empty((3, *SHAPE[1:]), "f4"))
    grp = fastchunk.open_group(root / "group.zarr")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        for name in grp:
            node = grp[name]
            assert isinstance(node, fastchunk.Array)
            node[...]
    np.testing.assert_array_equal(fastchunk.open(root / "group.zarr", path="plain")[...], 1.5)

    after = {str(p): _snapshot(p) for p in everything}
    assert after == before


# ------------------------------------------------------------------ memory


def test_memory_flat_over_10000_reads(tmp_path: Path, stores: dict[str, Path]) -> None:
    arrays = [fastchunk.open(p) for p in stores.values()]
    # One corrupt chunk: the error path must not leak either.
    bad_path = tmp_path / "bad.zarr"
    zarr.create_array(str(bad_path), shape=(8, 8), chunks=(4, 4), dtype="f4", zarr_format=2,
                      compressors=numcodecs.Zstd())[...] = 1
    (bad_path / "0.0").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    bad = fastchunk.open(bad_path)
    rng = np.random.default_rng(5)
    keys = [random_selection(rng) for _ in range(997)]
    out = np.empty((2, *SHAPE[1:]), "f4")

    def one(i: int) -> None:
        a = arrays[i % len(arrays)]
        if i % 10 == 9:
            try:
                bad[...]
            except fastchunk.ChunkDecodeError:
                pass
            else:
                raise AssertionError("corrupt chunk read")
        elif i % 10 == 8:
            a.take([i % SHAPE[0], 0], axis=0, out=out)
        else:
            a[keys[i % len(keys)]]

    process = psutil.Process()
    for i in range(2000):  # warm-up: buffers, caches, thread pool
        one(i)
    rss_before = process.memory_info().rss
    for i in range(10_000):
        one(i)
    growth = process.memory_info().rss - rss_before
    assert growth < 8 << 20, f"RSS grew by {growth / 2**20:.1f} MiB over 10,000 reads"
