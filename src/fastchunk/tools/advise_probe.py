"""The short measurements of `fastchunk advise`: storage (cold and warm local
reads, object-store latency and bandwidth), decoding on this machine's cores
with the stored bytes in memory, and the caches and layouts it may advise,
each measured on a few batches of the user's own access pattern."""

from __future__ import annotations

import itertools
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
SPIN_SECONDS = 0.15
_SPIN_BLOCK: np.ndarray | None = None


def timed(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Median wall seconds of `fn` over `repeats` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU-seconds of the whole process) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - w0, time.process_time() - c0


def spin(threads: int, seconds: float = SPIN_SECONDS) -> dict[str, float]:
    """The cores this process gets now with `threads` busy threads: the
    core's thread pool reduces an in-memory block (the scan kernel, no I/O)
    for `seconds`; CPU-seconds over wall seconds ("available")."""
    global _SPIN_BLOCK
    if _SPIN_BLOCK is None:
        _SPIN_BLOCK = np.random.default_rng(0).random(2**22, dtype=np.float32)
    block = _SPIN_BLOCK
    _core.set_thread_num_threads(threads)
    try:
        c0, w0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - w0 < seconds:
            _core.scan_stats(block, 1, 64, block.size // 64)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        _core.set_thread_num_threads(0)
    return {"available": cpu / wall if wall > 0 else float(threads)}


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


RING = 3  # the Loader's ring: its default prefetch (2) + 1 buffers


class BatchProbe:
    """A few random batches of the pattern, and what they touch."""

    def __init__(self, ds: ArrayDataset, batch: int, count: int, seed: int,
                 batches: list[np.ndarray] | None = None) -> None:
        """`count` random batches of `batch` samples, or the `batches` given."""
        self.ds = ds
        rng = np.random.default_rng(seed)
        n = len(ds)
        take = min(batch, n)
        self.batches = batches or [rng.choice(n, size=take, replace=False) for _ in range(count)]
        # The Loader writes its batches into a ring of prefetch + 1 buffers
        # in turn: writing 20 MB into the buffer written last costs less than
        # into one written two batches ago (the caches still hold part of
        # it), up to 30% of a cache hit's time.
        self.outs = [torch.empty((take, *ds.output_shape), dtype=ds.out_dtype)
                     for _ in range(RING)]  # fmt: skip
        self.turn = 0

    @property
    def array(self) -> Array:
        return self.ds.array

    def read(self, positions: np.ndarray) -> None:
        out = self.outs[self.turn % len(self.outs)]
        self.turn += 1
        self.ds.read_batch(positions, out[: positions.size])

    def read_all(self) -> None:
        for b in self.batches:
            self.read(b)

    def cost(self, threads: int, repeats: int = REPEATS) -> dict[str, float]:
        """Wall and CPU-seconds per batch of the probe's batches on `threads`
        threads (the medians over `repeats` passes), the share of the
        available cores the reads kept busy, and those cores (spinning
        `threads` threads just before and after)."""
        before = spin(threads)
        _core.set_thread_num_threads(threads)
        try:
            runs = [cpu_timed(self.read_all) for _ in range(repeats)]
        finally:
            _core.set_thread_num_threads(0)
        after = spin(threads)
        available = (before["available"] + after["available"]) / 2
        n = len(self.batches)
        wall = statistics.median(w for w, _ in runs) / n
        cpu = statistics.median(c for _, c in runs) / n
        util = cpu / wall if wall > 0 else available
        return {"wall_s": wall, "cpu_s": cpu, "available": available,
                "efficiency": min(1.0, util / available) if available > 0 else 1.0}  # fmt: skip

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


def local_storage(probe: BatchProbe, threads: int, stored_per_batch: float,
                  readers: int | None = None) -> dict[str, Any]:
    """Cold bandwidth (the probe's files evicted, then read whole by
    `readers` readers, default `threads`), cold latency (4 KiB at the start
    of evicted files), and what reading cold adds to fastchunk's reads of
    the probe's batches: the kernel's work (filling the page cache, faulting
    the mappings in) is CPU time of this process, per stored byte."""
    files = probe.local_files()
    evict(files)
    t0 = time.perf_counter()
    nbytes = touch(files, readers or threads)
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
    n = len(probe.batches)
    _core.set_thread_num_threads(threads)
    try:
        cold = []
        for _ in range(2):
            evict(files)
            cold.append(cpu_timed(probe.read_all))
        warm = [cpu_timed(probe.read_all) for _ in range(2)]
    finally:
        _core.set_thread_num_threads(0)
    cold_cpu = statistics.median(c for _, c in cold) / n
    warm_cpu = statistics.median(c for _, c in warm) / n
    return {
        "disk_bandwidth": nbytes / cold_s if cold_s > 0 else None,
        "disk_latency": statistics.median(lat) if lat else None,
        "io_cpu_per_byte": max(0.0, cold_cpu - warm_cpu) / stored_per_batch
        if stored_per_batch
        else 0.0,
        "probe_bytes": nbytes,
        "cold_batch_s": statistics.median(w for w, _ in cold) / n,
        "cold_batch_cpu_s": cold_cpu,
        "warm_batch_cpu_s": warm_cpu,
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
    concurrency = int(getattr(store, "concurrency", 32))
    rounds = [reqs[:concurrency] for reqs in requests if reqs]
    # A loader's connections are open: open as many before timing.
    store.get_ranges(max(rounds, key=len))
    lat = [timed(lambda: store.get_ranges([(key, 0, 1)]), 1) for _ in range(5)]
    latency = statistics.median(lat)
    return {
        "latency": latency,
        **remote_bandwidth(store, rounds, latency, 2),
        "concurrency": concurrency,
        "rounds": rounds,
    }


def remote_bandwidth(store: Any, rounds: list[list[tuple[str, int, int]]], latency: float,
                     repeats: int = 1) -> dict[str, float | None]:  # fmt: skip
    """Bytes per second of rounds of concurrent requests (as a batch's), the
    latency of one request taken out: the median over the rounds."""
    rates = []
    for reqs in rounds:
        total = sum(r[2] for r in reqs)
        seconds = timed(lambda reqs=reqs: store.get_ranges(reqs), repeats)
        rates.append(total / max(seconds - latency, 1e-6))
    return {"bandwidth": statistics.median(rates) if rates else None}


def server_on_this_machine(location: str, options: dict[str, Any] | None) -> bool:
    """Whether the object store answering `location` listens on a loopback
    address: its CPU then competes with the reader's for the same cores."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    urls = [v for k, v in (options or {}).items()
            if isinstance(v, str) and "endpoint" in k.lower()]  # fmt: skip
    if location.startswith(("http://", "https://")):
        urls.append(location)
    for url in urls:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
        if not host:
            continue
        try:
            addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except OSError:
            continue
        if any(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addrs):
            return True
    return False


def machine_busy_seconds() -> float | None:
    """CPU-seconds every process of this machine has spent (user, nice,
    system, interrupts; /proc/stat), or None where that is not readable."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (fields + [0] * 7)[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def fetch_ahead_cost(ds: ArrayDataset, batches: list[np.ndarray], budget: int,
                     object_estimate: int,
                     server_local: bool = False) -> dict[str, float]:  # fmt: skip
    """The network part of a Loader's epoch from an object store, measured
    through the Loader's own fetching ahead (fastchunk.store.fetch_ahead) with
    nothing decoded: the batches' requests named ahead under `budget`, each
    batch's answers then taken in order. Wall and CPU-seconds per byte that
    arrived after the first batch (the steady state); with
    `server_local` (the store runs on this machine), also the CPU-seconds the
    machine's other processes spent meanwhile (the server, its proxies)."""
    from fastchunk.store.fetch_ahead import FetchAhead
    from fastchunk.store.serve import fetch

    named = [ds.fetch_requests(b) for b in batches]  # shard indexes: fetched now
    jobs = [lambda b=b: ds.fetch_requests(b) for b in batches]
    stores = list({id(st): st for requests in named for st, _ in requests}.values())

    def received() -> int:
        return sum(getattr(st, "request_counts", dict)().get("bytes", 0) for st in stores)

    # A Loader's epoch runs for many batches: its pace is that of the steady
    # state. The first batch waits a whole latency with nothing to overlap
    # and starts connections and threads, while later batches are fetched
    # meanwhile (as far ahead as the budget allows): timed from the end of
    # the first batch, per byte that arrived since, the probe sees neither.
    ahead = FetchAhead(jobs, budget, object_estimate=object_estimate)
    server = server_local and machine_busy_seconds() is not None

    def mark() -> tuple[float, float, float, int]:
        busy = machine_busy_seconds() if server else 0.0
        return time.perf_counter(), time.process_time(), busy or 0.0, received()

    try:
        start = mark()
        first = end = start
        for j, requests in enumerate(named):
            ahead.before(j)
            for store, reqs in requests:
                fetch(store, reqs)
            end = mark()
            if j == 0:
                first = end
    finally:
        ahead.close()
    # From the end of the first batch on; with one batch, that batch.
    (t1, c1, b1, r1) = first if len(named) > 1 else start
    (t2, c2, b2, r2) = end
    nbytes = r2 - r1
    out: dict[str, float] = {"first_s": first[0] - start[0], "batches": len(named),
                             "timed_s": t2 - t1, "timed_bytes": nbytes}  # fmt: skip
    if nbytes > 0:
        out["s_per_byte"] = (t2 - t1) / nbytes
        out["cpu_per_byte"] = (c2 - c1) / nbytes
        if server:
            out["server_cpu_per_byte"] = max(0.0, (b2 - b1) - (c2 - c1)) / nbytes
    return out


# ---------------------------------------------------------------- decoding


def decode_local(probe: BatchProbe, threads: int) -> dict[str, Any]:
    """The probe's costs (BatchProbe.cost) with the stored bytes in the
    page cache, on `threads` threads and on one."""
    touch(probe.local_files())
    probe.read_all()  # the mappings and buffers of a steady loader
    return {"threads": probe.cost(threads, 2), "one": probe.cost(1, 1)}


def decode_remote(probe: BatchProbe, threads: int, stored_bytes: float) -> dict[str, Any]:
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
        return {"threads": probe.cost(threads, 2), "one": probe.cost(1, 1),
                "fetched_batch_s": first}  # fmt: skip
    finally:
        _core.set_compressed_cache_size(before)
        _core.clear_compressed_cache()


def memory_copy_rate(nbytes: int = 64 * 2**20) -> float:
    src = np.ones(nbytes, np.uint8)
    dst = np.empty_like(src)
    seconds = timed(lambda: np.copyto(dst, src), 3)
    return nbytes / seconds


# ---------------------------------------------------------------- what-ifs


def node_cache_batch(probe: BatchProbe, threads: int, decoded_bytes: float) -> dict[str, float]:
    """The probe's costs (BatchProbe.cost) when the node's shared
    decoded-chunk cache holds the chunks: a temporary cache of this
    process, filled once, then read."""
    name = f"advise-{os.getpid()}"
    budget = int(2 * decoded_bytes * len(probe.batches)) + 64 * 2**20
    fastchunk.set_cache_size(budget, shared=name)
    try:
        probe.read_all()
        return probe.cost(threads)
    finally:
        fastchunk.set_cache_size(0, shared=name)
        from fastchunk.cache import remove_shared_cache

        remove_shared_cache(name)


def disk_cache_batch(
    probe: BatchProbe, location: str, path: str | None, options: dict[str, Any],
    threads: int, make_ds: Callable[[Array], ArrayDataset],
) -> dict[str, float]:  # fmt: skip
    """The probe's costs (BatchProbe.cost) when a local disk cache (cache_dir) holds the
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
        other.outs, other.turn = probe.outs, 0
        other.read_all()
        return other.cost(threads)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def layout_store(array: Array, chunks: Sequence[int], codec: str, rows: np.ndarray,
                 axis: int, where: str) -> tuple[str, list[int]]:  # fmt: skip
    """A store of `array` in another layout (`chunks`, `codec`) at `where`,
    holding only the chunks that hold `rows` along `axis` (enough for reads
    of those rows; the others are missing): the proposed layout, measured on
    the data it will hold. Returns the path and the stored sizes written."""
    from fastchunk.tools.rechunk import make_target, parse_codec

    target = make_target(array, "", tuple(chunks), None, parse_codec(codec), array.zarr_format)
    chain, _ = target.codec_chains()
    for key, doc in target.metadata().items():
        with open(os.path.join(where, key), "wb") as f:
            f.write(doc)
    grid = target.grid
    others = [range(g) for d, g in enumerate(grid) if d != axis]
    sizes = []
    for r in np.unique(rows // chunks[axis]).tolist():
        for rest in itertools.product(*others):
            coords = list(rest)
            coords.insert(axis, r)
            bounds = zip(coords, chunks, array.shape, strict=True)
            region = tuple(slice(c * k, min((c + 1) * k, n)) for c, k, n in bounds)
            block = np.zeros(chunks, dtype=array.dtype)  # edge chunks are padded
            block[tuple(slice(0, s.stop - s.start) for s in region)] = array[region]
            blob = _core.encode_chunk(block, chain)
            path = os.path.join(where, target.key(coords))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(blob)
            sizes.append(len(blob))
    return where, sizes
