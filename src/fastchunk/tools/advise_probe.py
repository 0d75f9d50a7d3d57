"""The short measurements of `fastchunk advise`: storage (cold and warm local
reads, object-store latency and bandwidth), decoding on this machine's cores
with the stored bytes in memory, and the caches and layouts it may advise,
each measured on a few batches of the user's own access pattern."""

from __future__ import annotations

import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

import fastchunk
from fastchunk import _core
from fastchunk.array import Array
from fastchunk.torch.dataset import ArrayDataset
from fastchunk.zarr.chunk_keys import ChunkKeys

REPEATS = 3


def timed(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Median wall seconds of `fn` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def evict(paths: Sequence[str]) -> None:
    """Drops files from the page cache (posix_fadvise DONTNEED), after the
    mappings fastchunk keeps of them (mapped pages cannot be dropped)."""
    _core.clear_maps()
    for p in paths:
        try:
            fd = os.open(p, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _read_whole(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        n = 0
        while block := os.read(fd, 1 << 22):
            n += len(block)
        return n
    finally:
        os.close(fd)


def touch(paths: Sequence[str], threads: int = 4) -> int:
    """Reads files whole (into the page cache); their total size."""
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return sum(pool.map(_read_whole, paths))


class BatchProbe:
    """A few random batches of the pattern, and what they touch."""

    def __init__(self, ds: ArrayDataset, batch: int, count: int, seed: int) -> None:
        self.ds = ds
        rng = np.random.default_rng(seed)
        n = len(ds)
        take = min(batch, n)
        self.batches = [rng.choice(n, size=take, replace=False) for _ in range(count)]
        self.out = torch.empty((take, *ds.output_shape), dtype=ds.out_dtype)

    @property
    def array(self) -> Array:
        return self.ds.array

    def read(self, positions: np.ndarray) -> None:
        self.ds.read_batch(positions, self.out[: positions.size])

    def read_all(self) -> None:
        for b in self.batches:
            self.read(b)

    def seconds_per_batch(self, threads: int, repeats: int = REPEATS) -> float:
        """Median seconds per batch of the probe's batches on `threads` threads."""
        _core.set_thread_num_threads(threads)
        try:
            return timed(self.read_all, repeats) / len(self.batches)
        finally:
            _core.set_thread_num_threads(0)

    def object_keys(self, positions: np.ndarray | None = None) -> list[str]:
        """Keys of the stored objects (chunks, or shards) the batches read."""
        ds, array = self.ds, self.array
        unit = array.shards if array.shards is not None else array.chunks
        grid = [-(-s // u) for s, u in zip(array.shape, unit, strict=True)]
        chosen = self.batches if positions is None else [positions]
        rows = np.concatenate([ds.anchors[b] for b in chosen])
        if ds.offsets is not None:
            rows = (rows[:, None] + ds.offsets[None, :]).reshape(-1)
        along = np.unique(rows // unit[ds.axis])
        keys = ChunkKeys.of(array.metadata)
        others = [range(g) for d, g in enumerate(grid) if d != ds.axis]
        out = []
        for r in along.tolist():
            for rest in np.ndindex(*[len(o) for o in others]) if others else [()]:
                coords = list(rest)
                coords.insert(ds.axis, r)
                out.append(keys.key(coords))
        return out

    def local_files(self, positions: np.ndarray | None = None) -> list[str]:
        root = self.array.store.local_root
        assert root is not None
        paths = [os.path.join(root, k) for k in self.object_keys(positions)]
        return [p for p in paths if os.path.isfile(p)]


# ---------------------------------------------------------------- storage


def local_storage(probe: BatchProbe, threads: int) -> dict[str, Any]:
    """Cold bandwidth (the probe's files evicted, then read whole by
    `threads` readers), cold latency (4 KiB at the start of evicted files)
    and the time of the probe's batches read cold by fastchunk."""
    files = probe.local_files()
    evict(files)
    t0 = time.perf_counter()
    nbytes = touch(files, threads)
    cold_s = time.perf_counter() - t0
    lat = []
    for p in files[: min(5, len(files))]:
        evict([p])
        fd = os.open(p, os.O_RDONLY)
        try:
            t0 = time.perf_counter()
            os.pread(fd, 4096, 0)
            lat.append(time.perf_counter() - t0)
        finally:
            os.close(fd)
    evict(files)
    _core.set_thread_num_threads(threads)
    try:
        t0 = time.perf_counter()
        probe.read_all()
        cold_batch = (time.perf_counter() - t0) / len(probe.batches)
    finally:
        _core.set_thread_num_threads(0)
    return {
        "disk_bandwidth": nbytes / cold_s if cold_s > 0 else None,
        "disk_latency": statistics.median(lat) if lat else None,
        "probe_bytes": nbytes,
        "cold_batch_s": cold_batch,
    }


def page_cache_share(stored_bytes: int) -> float:
    """The share of `stored_bytes` the page cache can keep across epochs: half
    of the memory the kernel says is available to it."""
    try:
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        room = 0.5 * info.get("MemAvailable", info.get("MemTotal", 0))
    except (OSError, ValueError, IndexError):
        return 1.0
    return 1.0 if stored_bytes <= room else room / stored_bytes


def remote_requests(probe: BatchProbe) -> list[list[tuple[str, int, int]]]:
    """Per probe batch, requests like those a read makes: whole chunk
    objects, or for shards ranges of the mean size of a batch's ranges."""
    array, store = probe.array, probe.array.store
    sizes = dict(store.list_prefix(array.path + "/" if array.path else ""))
    out = []
    for b in probe.batches:
        keys = [k for k in probe.object_keys(b) if k in sizes]
        out.append([(k, 0, sizes[k]) for k in keys])
    return out


def remote_storage(
    probe: BatchProbe, requests: list[list[tuple[str, int, int]]], nbytes_per_batch: float
) -> dict[str, Any]:
    """Latency (one byte, one request at a time) and bandwidth (one round of
    concurrent requests of a batch's size)."""
    store = probe.array.store
    first = next((r[0] for r in requests if r), None)
    if first is None:
        return {"latency": None, "bandwidth": None}
    key = first[0]
    lat = [timed(lambda: store.get_ranges([(key, 0, 1)]), 1) for _ in range(5)]
    latency = statistics.median(lat)
    concurrency = int(getattr(store, "concurrency", 32))
    # Requests of the batch's stored size, at most one round of them.
    rates = []
    for reqs in requests:
        reqs = reqs[:concurrency]
        if not reqs:
            continue
        total = sum(r[2] for r in reqs)
        seconds = timed(lambda reqs=reqs: store.get_ranges(reqs), 1)
        rates.append(total / max(seconds - latency, 1e-6))
    return {
        "latency": latency,
        "bandwidth": statistics.median(rates) if rates else None,
        "concurrency": concurrency,
    }


# ---------------------------------------------------------------- decoding


def decode_local(probe: BatchProbe, threads: int) -> tuple[float, float]:
    """Seconds per batch with the stored bytes in the page cache, on
    `threads` threads and on one."""
    touch(probe.local_files())
    probe.read_all()  # the mappings and buffers of a steady loader
    return probe.seconds_per_batch(threads), probe.seconds_per_batch(1, 2)


def decode_remote(probe: BatchProbe, threads: int, stored_bytes: float) -> dict[str, float]:
    """The same for an object store: the stored bytes are kept in the
    process's compressed level during the probe (so the second read decodes
    without requests), then the level is put back as it was."""
    before = _core.get_compressed_cache_info()["capacity"]
    budget = int(2 * stored_bytes * len(probe.batches)) + 64 * 2**20
    _core.set_compressed_cache_size(max(before, budget))
    try:
        _core.set_thread_num_threads(threads)
        try:
            t0 = time.perf_counter()
            probe.read_all()  # fetches and keeps the stored bytes
            first = (time.perf_counter() - t0) / len(probe.batches)
        finally:
            _core.set_thread_num_threads(0)
        return {
            "decode_s": probe.seconds_per_batch(threads),
            "decode_s_1": probe.seconds_per_batch(1, 2),
            "fetched_batch_s": first,
        }
    finally:
        _core.set_compressed_cache_size(before)
        _core.clear_compressed_cache()


def memory_copy_rate(nbytes: int = 64 * 2**20) -> float:
    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    seconds = timed(lambda: np.copyto(dst, src), 3)
    return nbytes / seconds


# ---------------------------------------------------------------- what-ifs


def node_cache_batch(probe: BatchProbe, threads: int, decoded_bytes: float) -> float:
    """Seconds per batch when the node's shared decoded-chunk cache holds the
    chunks: a temporary cache of this process, filled once, then read."""
    name = f"advise-{os.getpid()}"
    budget = int(2 * decoded_bytes * len(probe.batches)) + 64 * 2**20
    fastchunk.set_cache_size(budget, shared=name)
    try:
        probe.read_all()
        return probe.seconds_per_batch(threads)
    finally:
        fastchunk.set_cache_size(0, shared=name)
        from fastchunk.cache import remove_shared_cache

        remove_shared_cache(name)


def disk_cache_batch(
    probe: BatchProbe, location: str, path: str | None, options: dict[str, Any],
    threads: int, make_ds: Callable[[Array], ArrayDataset],
) -> float:  # fmt: skip
    """Seconds per batch when a local disk cache (cache_dir) holds the
    objects: the same batches through a temporary cache directory, read once
    to fill it, then timed."""
    where = tempfile.mkdtemp(prefix="fastchunk-advise-cache-")
    try:
        opts = dict(options)
        opts.update({"cache_dir": where, "cache_size": "1TB"})
        cached = fastchunk.open_array(location, path, opts)
        other = BatchProbe.__new__(BatchProbe)
        other.ds = make_ds(cached)
        other.batches = probe.batches
        other.out = probe.out
        other.read_all()
        return other.seconds_per_batch(threads)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def codec_costs(array: Array, chain_new: Any, chunk_new: Sequence[int],
                sample: np.ndarray) -> dict[str, float]:  # fmt: skip
    """Decode seconds per decoded byte on one thread of the array's own
    stored chunks and of a chunk of the proposed layout encoded from
    `sample` (its compression ratio too)."""
    meta = array.metadata
    out: dict[str, float] = {}
    if meta.native_codecs is not None and array.shards is None:
        keys = ChunkKeys.of(meta)
        grid = [-(-s // c) for s, c in zip(array.shape, array.chunks, strict=True)]
        nbytes = math.prod(array.chunks) * array.dtype.itemsize
        blobs = []
        for coords in np.ndindex(*[min(g, 2) for g in grid]):
            blob = array.store.get(keys.key(list(coords)))
            if blob is not None:
                blobs.append(blob)
            if len(blobs) >= 4:
                break
        if blobs:
            seconds = timed(lambda: [_core.decode_chunk(b, meta.native_codecs, nbytes)
                                     for b in blobs])  # fmt: skip
            out["current_per_byte"] = seconds / (nbytes * len(blobs))
    want = math.prod(chunk_new)
    flat = np.ascontiguousarray(sample).reshape(-1)
    reps = -(-want // max(1, flat.size))
    block = np.ascontiguousarray(np.tile(flat, reps)[:want])
    encoded = _core.encode_chunk(block, chain_new)
    seconds = timed(lambda: _core.decode_chunk(encoded, chain_new, block.nbytes))
    out["new_per_byte"] = seconds / block.nbytes
    out["new_ratio"] = block.nbytes / max(1, len(encoded))
    return out
