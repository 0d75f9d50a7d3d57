"""The model behind `fastchunk advise` (docs/advise.md): the geometry of an
access pattern against a chunk layout, and the time of one Loader batch from
measured costs. Pure arithmetic: nothing here reads a store."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

DRAWS = 64  # random batches drawn to average the geometry over


@dataclass(frozen=True)
class Geometry:
    """What one shuffled batch of the pattern touches in one layout (means
    over random batches), and what a whole epoch touches."""

    chunks: float  # decode units (chunks, inner chunks of shards) per batch
    requests: float  # objects or byte ranges an object store is asked for per batch
    stored_bytes: float  # stored bytes of those units
    decoded_bytes: float  # their decoded bytes
    output_bytes: int  # bytes of the batch itself
    sample_bytes: int  # bytes of one sample (its window included)
    working_set_decoded: int  # decoded bytes of every unit an epoch touches
    working_set_stored: int  # their stored bytes
    epoch_batches: int = 1  # batches of an epoch

    @property
    def first_read_share(self) -> float:
        """The share of a batch's stored bytes that no earlier batch of its
        epoch read: an epoch reads each unit it touches once for the first
        time, however many of its batches touch it (units holding several
        samples: most reads of them are re-reads)."""
        asked = self.stored_bytes * max(1, self.epoch_batches)
        return min(1.0, self.working_set_stored / asked) if asked > 0 else 1.0

    def cold_share(self, held: float, page_cache: float) -> float:
        """The share of a batch's stored bytes read from the disk: `held`,
        the share the page cache holds from earlier epochs (0 in a first
        epoch, where only re-reads within the epoch can hit); `page_cache`,
        the share of the working set it can hold at all."""
        if held > 0:
            return 1.0 - held
        first = self.first_read_share
        return first + (1.0 - first) * (1.0 - page_cache)

    @property
    def amplification(self) -> float:
        """Decoded bytes per byte of batch: 1 reads exactly the batch."""
        return self.decoded_bytes / self.output_bytes if self.output_bytes else 1.0

    def rounds(self, concurrency: int) -> float:
        return max(1.0, math.ceil(self.requests / max(1, concurrency)))

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["amplification"] = self.amplification
        return out


def batch_geometry(
    shape: Sequence[int],
    chunks: Sequence[int],
    shards: Sequence[int] | None,
    itemsize: int,
    axis: int,
    offsets: Sequence[int],
    batch: int,
    anchors: np.ndarray,
    stored_per_unit: float,
    seed: int = 0,
) -> Geometry:
    """The geometry of batches of `batch` random anchors (positions along
    `axis`), each read with its window `offsets` and whole along the other
    axes. `stored_per_unit`: mean stored bytes of one decode unit."""
    nd = len(shape)
    grid = [-(-s // c) for s, c in zip(shape, chunks, strict=True)]
    per_row = math.prod(g for d, g in enumerate(grid) if d != axis)
    unit_bytes = math.prod(chunks) * itemsize
    offs = np.asarray(offsets, dtype=np.int64)
    sample_bytes = math.prod(s for d, s in enumerate(shape) if d != axis) * itemsize * len(offs)
    c_axis = chunks[axis]
    if shards is not None:
        per_shard = shards[axis] // c_axis
        shard_grid = [-(-s // h) for s, h in zip(shape, shards, strict=True)]
        shards_per_row = math.prod(g for d, g in enumerate(shard_grid) if d != axis)
    rng = np.random.default_rng(seed)
    n = anchors.size
    take = min(batch, n)
    rows_total = requests_total = 0.0
    for _ in range(DRAWS if n > take else 1):
        picked = anchors[rng.choice(n, size=take, replace=False)] if n > take else anchors
        rows = np.unique((picked[:, None] + offs[None, :]).reshape(-1) // c_axis)
        rows_total += rows.size
        if shards is None:
            requests_total += rows.size * per_row
        else:
            # Neighbouring inner chunks of one shard come in one range request.
            breaks = (np.diff(rows) != 1) | (np.diff(rows // per_shard) != 0)
            runs = 1 + int(breaks.sum()) if rows.size else 0
            requests_total += runs * shards_per_row
    draws = DRAWS if n > take else 1
    units = rows_total / draws * per_row
    touched = np.zeros(grid[axis], dtype=bool)
    if n and nd:
        lo, hi = int(anchors.min() + offs.min()), int(anchors.max() + offs.max())
        touched[lo // c_axis : hi // c_axis + 1] = True
    ws_units = int(touched.sum()) * per_row
    return Geometry(
        chunks=units,
        requests=requests_total / draws,
        stored_bytes=units * stored_per_unit,
        decoded_bytes=units * unit_bytes,
        output_bytes=sample_bytes * take,
        sample_bytes=sample_bytes,
        working_set_decoded=ws_units * unit_bytes,
        working_set_stored=int(ws_units * stored_per_unit),
        epoch_batches=max(1, n // take) if take else 1,
    )


@dataclass(frozen=True)
class Costs:
    """Measured costs (fastchunk.tools.advise_probe), per batch of the probe
    geometry unless said otherwise.

    Decoding is accounted in CPU-seconds, which other users of a shared
    machine barely change, and turned into wall time with the cores this
    process gets (`available`, measured by spinning `threads` threads) and
    the share of them a read keeps busy (`efficiency`)."""

    threads: int
    cores: int
    cpu_s: float  # CPU-seconds of a batch read with its stored bytes in memory
    cpu_s_1: float  # the same read on one thread
    efficiency: float  # busy share of the available cores during such a read, `threads`
    efficiency_1: float  # the same on one thread
    available: float  # cores this process gets running `threads` threads
    probe_decoded_bytes: float  # decoded bytes of the probe's batches (mean)
    remote: bool
    # local storage
    disk_bandwidth: float | None = None  # bytes/s, cold, a batch's files read at once
    disk_latency: float | None = None  # seconds, one cold read
    io_cpu_per_byte: float = 0.0  # CPU-seconds the kernel spends per byte read cold
    cached_fraction: float = 1.0  # share of the stored bytes the page cache holds
    # share of the working set the page cache can hold (re-reads within an epoch)
    page_cache_share: float = 1.0
    # object store
    latency: float | None = None  # seconds, one small request
    bandwidth: float | None = None  # bytes/s, one round of concurrent requests
    concurrency: int = 32
    fetch_cpu_per_byte: float = 0.0  # CPU-seconds of this process per byte fetched
    fetch_ahead: int = 0  # batches the Loader fetches ahead (0: none)
    fetch_ahead_s_per_byte: float | None = None  # wall s per stored byte fetched ahead
    # CPU-seconds an object store on this machine (loopback) spends per byte
    # it serves: it competes with the reader for the cores
    server_cpu_per_byte: float = 0.0
    # share of a batch's stored bytes the Loader fetches in an epoch: what
    # an earlier batch's fetching ahead still holds is not asked again
    fetched_share: float = 1.0

    @property
    def cpu_per_byte(self) -> float:
        return self.cpu_s / self.probe_decoded_bytes if self.probe_decoded_bytes else 0.0

    @property
    def busy_cores(self) -> float:
        return max(1e-3, self.efficiency * self.available)

    @property
    def decode_s(self) -> float:
        """Wall seconds of the probe's batch read (stored bytes in memory)."""
        return self.cpu_s / self.busy_cores

    @property
    def decode_per_byte(self) -> float:
        return self.cpu_per_byte / self.busy_cores

    @property
    def speedup(self) -> float:
        """Decode speedup of `threads` threads over one."""
        one = self.at_threads(1)
        return max(1.0, one.decode_s / self.decode_s) if self.decode_s > 0 else 1.0

    def at_threads(self, threads: int) -> Costs:
        """The costs with another thread count: a thread gets the share of a
        core each of the measured ones got (at most a core, at most `cores`
        in all); the busy share and the CPU-seconds move linearly from their
        one-thread values to the measured ones and no further."""
        t = max(1, threads)
        if t == self.threads:
            return self
        per_thread = min(1.0, self.available / max(1, self.threads))
        available = min(float(self.cores), per_thread * t)
        if self.threads <= 1:
            f = 1.0
        else:
            f = (min(t, self.threads) - 1) / (self.threads - 1)
        return replace(
            self, threads=t, available=available,
            efficiency=self.efficiency_1 + (self.efficiency - self.efficiency_1) * f,
            cpu_s=self.cpu_s_1 + (self.cpu_s - self.cpu_s_1) * f,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(cpu_per_byte=self.cpu_per_byte, decode_s=self.decode_s,
                   decode_per_byte=self.decode_per_byte, speedup=self.speedup)  # fmt: skip
        return out


def batch_time(g: Geometry, c: Costs, decode_scale: float = 1.0) -> dict[str, float]:
    """Seconds per batch and its parts. `decode_scale`: CPU cost per byte of
    this layout over that of the probe's (another codec or chunk size).

    Local: the read-ahead overlaps disk reads with decoding, so a batch takes
    the longer of the disk's time (the part of the stored bytes not in the
    page cache at the disk's bandwidth) and the CPU's (decoding, plus the
    kernel's copying of what is read cold), plus one cold read's latency.
    Object store: a read fetches its objects in rounds of `concurrency`
    requests, then decodes (reads of more than one round decode while later
    rounds are in flight); the Loader fetches `fetch_ahead` batches ahead,
    so that only the longest of the link's time, the latency shared by the
    batches in flight and the CPU's time remains (the CPU's: decoding, the
    client's work, and a server's on this machine, which shares its cores)."""
    cpu = c.cpu_per_byte * decode_scale * g.decoded_bytes
    decode = cpu / c.busy_cores
    out = {"decode": decode, "storage": 0.0, "network": 0.0, "cpu_seconds": cpu}
    if c.remote:
        rounds = g.rounds(c.concurrency)
        transfer = g.stored_bytes / (c.bandwidth or math.inf)
        fetch = rounds * (c.latency or 0.0) + transfer
        # Fetching ahead, the Loader fetches only what the batches ahead do
        # not already hold (windows that overlap); without it, everything.
        fetched = g.stored_bytes * (c.fetched_share if c.fetch_ahead > 1 else 1.0)
        fetch_cpu = fetched * c.fetch_cpu_per_byte
        out["cpu_seconds"] = cpu + fetch_cpu
        out["fetched_bytes"] = fetched
        if c.fetch_ahead > 1:
            # The Loader fetches the next batches while this one decodes:
            # what remains is the longer of the network's time per batch
            # (measured through the Loader's fetching ahead) and the CPU's
            # (decoding and the client's work).
            if c.fetch_ahead_s_per_byte is not None:
                out["network"] = fetched * c.fetch_ahead_s_per_byte
            else:
                latency_bound = rounds * (c.latency or 0.0) / c.fetch_ahead
                out["network"] = max(fetched / (c.bandwidth or math.inf), latency_bound)
            server_cpu = fetched * c.server_cpu_per_byte
            out["server_cpu_seconds"] = server_cpu
            out["total"] = max(out["network"], (cpu + fetch_cpu + server_cpu) / c.busy_cores)
        elif g.requests <= c.concurrency:
            out["network"] = fetch
            out["total"] = fetch + decode
        else:
            out["network"] = fetch
            out["total"] = max(fetch, decode) + min(fetch, decode) / rounds
    else:
        cold = g.cold_share(c.cached_fraction, c.page_cache_share)
        io = cold * g.stored_bytes / (c.disk_bandwidth or math.inf)
        io_cpu = cold * g.stored_bytes * c.io_cpu_per_byte
        out["storage"] = io
        out["cpu_seconds"] = cpu + io_cpu
        out["io_cpu_seconds"] = io_cpu
        busy = max(decode + io_cpu / c.busy_cores, io)
        out["total"] = busy + (cold * (c.disk_latency or 0.0) if cold > 0 else 0.0)
    return out


def samples_per_s(batch: int, seconds: float, step_time: float | None = None) -> float:
    """What a loader that prefetches sustains under a model taking
    `step_time` per batch: the slower of the two sets the pace."""
    pace = max(seconds, step_time or 0.0)
    return batch / pace if pace > 0 else math.inf


def bottleneck(parts: dict[str, float], step_time: float | None) -> str:
    if step_time is not None and step_time >= parts["total"]:
        return "model"
    return max(("storage", "network", "decode"), key=lambda k: parts[k])


def node_samples_per_s(
    batch: int, g: Geometry, c: Costs, ranks: int, step_time: float | None
) -> dict[str, Any]:
    """One node of `ranks` processes sharing its cores (the node to itself:
    no other users): each runs cores // ranks threads; together they use at
    most every core (CPU-seconds per batch) and read the disk at its
    bandwidth."""
    threads = max(1, c.cores // max(1, ranks))
    per = c.at_threads(threads)
    per = replace(per, available=float(min(threads, c.cores)))  # a node of its own
    parts = batch_time(g, per)
    process = samples_per_s(batch, parts["total"], step_time)
    limits = {"processes": ranks * process}
    if parts["cpu_seconds"] > 0:
        # every core of the node busy: CPU-seconds per batch over the cores
        limits["cores"] = batch * c.cores * c.efficiency / parts["cpu_seconds"]
    if not c.remote and c.cached_fraction < 1 and c.disk_bandwidth:
        per_batch = g.cold_share(c.cached_fraction, c.page_cache_share) * g.stored_bytes
        limits["disk"] = batch * c.disk_bandwidth / per_batch if per_batch else math.inf
    limit = min(limits, key=lambda k: limits[k])
    return {
        "ranks": ranks,
        "threads_per_rank": threads,
        "samples_per_s": limits[limit],
        "limited_by": limit,
        "limits": limits,
    }


FetchRequest = tuple[Any, int]  # (what identifies the request, its bytes)


def fetched_share(batches: Sequence[Sequence[FetchRequest]], budget: int,
                  max_ahead: int = 64) -> float:  # fmt: skip
    """The share of the requested bytes that the Loader's fetching ahead
    (fastchunk.store.fetch_ahead) asks the server for, reading `batches` in
    order: a request an earlier batch named is fetched once while it is held
    (until the last batch named with it is read), and batches are named
    ahead only while the bytes held and the next batch's (guessed as the
    mean of those named) fit in `budget`. Windows that overlap make the
    share smaller than 1; batches that share nothing leave it at 1."""
    held: dict[Any, list[int]] = {}  # request -> [last batch named with it, bytes]
    held_bytes = 0
    named_new = named = 0
    requested = fetched = 0
    nxt = 0
    for j in range(len(batches)):
        for key in [k for k, (tag, _) in held.items() if tag < j]:
            held_bytes -= held.pop(key)[1]
        while nxt < len(batches) and nxt <= j + max_ahead:
            guess = named_new // named if named else 0
            if nxt > j and held_bytes + guess > budget:
                break
            new = 0
            for key, nbytes in batches[nxt]:
                requested += nbytes
                entry = held.get(key)
                if entry is not None:
                    entry[0] = max(entry[0], nxt)
                    continue
                held[key] = [nxt, nbytes]
                held_bytes += nbytes
                new += nbytes
            fetched += new
            named_new += new
            named += 1
            nxt += 1
    return fetched / requested if requested else 1.0
