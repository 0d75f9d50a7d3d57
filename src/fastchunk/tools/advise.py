"""`fastchunk advise`: measure, predict, recommend, then check the prediction
with a short run of the Loader. The model is documented in docs/advise.md;
its arithmetic is fastchunk.tools.advise_model, its measurements
fastchunk.tools.advise_probe.

The machine may be shared and noisy: the decode measurement and the Loader
run alternate, `rounds` times, so that prediction and check see the same
conditions; both are the medians over the rounds."""

from __future__ import annotations

import math
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

import fastchunk
from fastchunk.array import Array
from fastchunk.tools import advise_probe as probe_mod
from fastchunk.tools.advise_model import (
    Costs,
    Geometry,
    batch_geometry,
    batch_time,
    bottleneck,
    fetched_share,
    node_samples_per_s,
    samples_per_s,
)
from fastchunk.tools.info import ArrayObjects, _size, list_objects
from fastchunk.tools.progress import Progress

PROBE_BATCHES = 3  # batches of the storage measurement and the what-ifs
BANDWIDTH_BYTES = 256 << 20  # stored bytes the disk bandwidth is measured over
BANDWIDTH_BATCHES = 64  # at most this many batches' files
MAX_READERS = 16  # readers of the bandwidth probe: the files of a batch, at most this
DECODE_BATCHES = 6  # fresh batches of each round's decode measurement
EPOCH_BATCHES = 96  # batches of an epoch simulated for what fetching ahead fetches
CHECK_SECONDS = 2.5  # wall time of one Loader run
GAIN_WORTH_SAYING = 1.15
MAX_CHUNK_BYTES = 512 * 2**20


def _pick_array(node: Any) -> Array:
    """An array, a group's "data" (anemoi), or a group's largest array."""
    if isinstance(node, Array):
        return node
    if "data" in node.keys():
        data = node["data"]
        if isinstance(data, Array):
            return data
    arrays = [a for _, a in node.walk_arrays() if isinstance(a, Array)]
    if not arrays:
        raise ValueError("the store holds no array")
    return max(arrays, key=lambda a: a.nbytes)


def _stored_per_unit(array: Array, found: ArrayObjects) -> float:
    """Mean stored bytes of one decode unit (a chunk, or an inner chunk)."""
    units = len(found.stored)
    if not units:
        return 0.0
    if array.shards is None:
        return found.unit_bytes_stored / units
    per_shard = math.prod(s // c for s, c in zip(array.shards, array.chunks, strict=True))
    index = array.metadata.shard.index_nbytes if array.metadata.shard else 0
    return max(0.0, found.unit_bytes_stored - units * index) / (units * per_shard)


def _codec_text(array: Array) -> str:
    """The array's compressor as `fastchunk rechunk --codec` names it (zstd:3
    when it has none the command can write)."""
    from fastchunk.tools.rechunk import Codec, _compressors

    chain = array.metadata.native_codecs
    names = {c.name for c in _compressors()}
    for name, config in reversed(chain.steps if chain is not None else ()):
        if name in names:
            try:
                native = {c.name: c for c in _compressors()}[name]
                keep = {k: v for k, v in (config or {}).items() if k in native.positional_keys}
                return Codec(name, tuple(keep.items())).text
            except Exception:  # noqa: BLE001 - a configuration rechunk cannot write
                break
    return "zstd:3"


def _fmt_shape(values: Sequence[int]) -> str:
    return ",".join(str(v) for v in values)


class Advisor:
    """One store, one access pattern."""

    def __init__(
        self,
        location: str,
        *,
        path: str | None = None,
        storage_options: dict[str, Any] | None = None,
        axis: int = 0,
        batch: int = 8,
        window: Sequence[int] | None = None,
        step_time: float | None = None,
        ranks: int = 1,
        nodes: int = 1,
        threads: int | None = None,
        seed: int = 0,
        cold: bool = False,
        progress: bool | None = None,
    ) -> None:
        from fastchunk.torch.dataset import ArrayDataset

        self.location = location
        self.options = dict(storage_options or {})
        node = fastchunk.open(location, path, storage_options)
        self.array = _pick_array(node)
        self.path = self.array.path or None
        nd = self.array.ndim
        if nd == 0:
            raise ValueError("a 0-d array has no samples")
        if not -nd <= axis < nd:
            raise ValueError(f"--axis {axis} is out of range for an array of {nd} dimensions")
        if batch < 1:
            raise ValueError("--batch must be at least 1")
        if ranks < 1 or nodes < 1:
            raise ValueError("--ranks and --nodes must be at least 1")
        if step_time is not None and step_time < 0:
            raise ValueError("--step-time must be positive")
        self.axis = axis % nd
        self.batch = batch
        self.window = list(window) if window else None
        self.offsets = self.window or [0]
        self.step_time = step_time
        self.ranks, self.nodes = ranks, nodes
        self.cores = len(os.sched_getaffinity(0))
        self.threads = threads or fastchunk.get_num_threads()
        self.seed = seed
        self.force_cold = cold
        self.progress = progress
        self.remote = self.array.store.local_root is None

        def make_ds(array: Array) -> ArrayDataset:
            return ArrayDataset(array, self.axis, self.window)

        self.make_ds = make_ds
        self.ds = make_ds(self.array)
        if len(self.ds) < 1:
            raise ValueError("the access pattern leaves no sample (window longer than the axis?)")
        self.batch = min(batch, len(self.ds))

    # ------------------------------------------------------------ geometry
    def geometry(self, chunks: Sequence[int], shards: Sequence[int] | None,
                 stored_per_unit: float) -> Geometry:  # fmt: skip
        a = self.array
        return batch_geometry(a.shape, chunks, shards, a.dtype.itemsize, self.axis,
                              self.offsets, self.batch, self.ds.anchors, stored_per_unit,
                              self.seed)  # fmt: skip

    # ------------------------------------------------------------ the Loader
    def _check_batches(self, loader: Any, n: int) -> list[np.ndarray]:
        return loader.sampler.batches(0)[: n + 1]

    def _prepare(self, loader: Any, nbatches: int, regime: str) -> None:
        """Puts the store in the regime the check measures: the chunks of the
        check's batches in the page cache (warm) or out of it (cold); for
        sharded objects in a bucket, their indexes fetched (as after the
        first epoch)."""
        if regime == "remote":
            if self.array.shards is not None:
                b = np.concatenate(self._check_batches(loader, nbatches))
                rows = np.unique(self.ds.anchors[b] // self.array.shards[self.axis])
                for r in rows.tolist():
                    where = [0] * self.array.ndim
                    where[self.axis] = r * self.array.shards[self.axis]
                    self.array[tuple(where)]
            return
        probe = probe_mod.BatchProbe.__new__(probe_mod.BatchProbe)
        probe.ds = self.ds
        probe.batches = self._check_batches(loader, nbatches)
        files = probe.local_files()
        if regime == "cold":
            probe_mod.evict(files)
        else:
            # After the first epoch the files are in the page cache and
            # mapped (fastchunk keeps the mappings of stores that fit a
            # quarter of the memory): read the batches once.
            probe_mod.touch(files)
            probe.outs, probe.turn = [slot.host for slot in loader._ring()], 0
            probe.read_all()

    def check_batches(self, nbatches: int, regime: str) -> int:
        """The batches a check times: at most the epoch's (one untimed before
        them, except from an object store)."""
        n = len(self.ds) // self.batch
        return max(1, min(nbatches, n if regime == "remote" else n - 1))

    def loader_run(self, nbatches: int, regime: str, array: Array | None = None) -> float:
        """Samples per second of a real Loader over `nbatches` batches, with
        the model's step simulated when given, its ring of batches touched
        before (as in any epoch after its first). After one untimed batch; from
        an object store from the start instead: the Loader fetches batches
        ahead from its start, so an untimed first batch would give the timed
        ones a head start that a long epoch does not have."""
        from fastchunk.torch import Loader

        loader = Loader(
            array if array is not None else self.array, batch_size=self.batch, shuffle=True,
            seed=self.seed + 1, drop_last=True, offsets=self.window, axis=self.axis,
            num_threads=self.threads, pin_memory=False,
        )  # fmt: skip
        nbatches = self.check_batches(nbatches, regime)
        if array is None:
            self._prepare(loader, nbatches, regime)
        # A Loader makes its ring once and keeps it for every epoch: its first
        # touch (60 MB for a ring of three batches of 20 MB) is no part of the
        # rate an epoch sustains, and would be a large one of a short check's.
        for slot in loader._ring():
            slot.host.zero_()
        t0 = time.perf_counter()
        it = iter(loader)
        try:
            if regime != "remote":
                next(it)
                t0 = time.perf_counter()
            for _ in range(nbatches):
                next(it)
                if self.step_time:
                    time.sleep(self.step_time)
            seconds = time.perf_counter() - t0
        finally:
            it.close()
        return nbatches * self.batch / seconds

    # ------------------------------------------------------------ the run
    def run(self, rounds: int = 2, check: bool = True) -> dict[str, Any]:
        steps = 4 + 2 * rounds + 3
        with Progress(steps, desc="advise", unit="step", enabled=self.progress) as bar:
            return self._run(rounds, check, bar)

    def _run(self, rounds: int, check: bool, bar: Progress) -> dict[str, Any]:
        a = self.array
        prefix = a.path + "/" if a.path else ""
        found = ArrayObjects.of(a, list_objects(a.store, prefix, False))
        bar.update(1)
        per_unit = _stored_per_unit(a, found)
        geo = self.geometry(a.chunks, a.shards, per_unit)
        probe = probe_mod.BatchProbe(self.ds, self.batch, PROBE_BATCHES, self.seed)
        measured: dict[str, Any] = {"cores": self.cores, "threads": self.threads}
        # storage
        if self.remote:
            requests = probe_mod.remote_requests(probe)
            st = probe_mod.remote_storage(probe, requests, geo.stored_bytes)
            self._request_rounds = st.pop("rounds", [])
            depth = self._fetch_ahead_depth(geo)
            if depth > 1:
                # The network part of a steady epoch: the Loader's own
                # fetching ahead over fresh batches, nothing decoded.
                # Batches as an epoch has them (no sample twice), timed per
                # byte fetched; an epoch's batch fetches the share of its
                # bytes that batches ahead do not hold already (windows).
                epoch = self._epoch_batches(self.seed + 7)
                ahead = epoch[: min(16, 2 * depth)]
                chunk = math.prod(a.chunks) * a.dtype.itemsize
                local = probe_mod.server_on_this_machine(self.location, self.options)
                got = probe_mod.fetch_ahead_cost(self.ds, ahead, self._prefetch_bytes(),
                                                 chunk, server_local=local)  # fmt: skip
                st["fetch_ahead"] = got
                st["epoch_fetched_share"] = self._fetched_share(epoch, per_unit)
            measured["storage"] = st
            cached = 1.0
        else:
            geo3 = self._probe_geometry(probe, per_unit)
            # Over enough batches that a VM's disk gives its sustained rate
            # and the kernel's CPU shows (3 batches can be 30 MB: tens of ms)
            count = PROBE_BATCHES
            if geo3.stored_bytes:
                count = min(BANDWIDTH_BATCHES,
                            max(count, math.ceil(BANDWIDTH_BYTES / geo3.stored_bytes)))
            # batches as an epoch has them: no sample twice, so that the cold
            # reads are cold (a later batch re-reading a file reads the cache)
            wide = probe_mod.BatchProbe(self.ds, self.batch, count, self.seed + 3,
                                        self._epoch_batches(self.seed + 3)[:count])  # fmt: skip
            # read as the core's read-ahead reads: every file of a read at once
            readers = max(self.threads, min(MAX_READERS, round(geo3.requests)))
            stored = self._probe_geometry(wide, per_unit).stored_bytes
            measured["storage"] = probe_mod.local_storage(wide, self.threads, stored, readers)
            measured["storage"]["readers"] = readers
            cached = probe_mod.page_cache_share(found.nbytes_stored)
        measured["page_cache_share"] = cached
        bar.update(1)
        regime = "remote" if self.remote else ("cold" if self.force_cold or cached < 1 else "warm")
        probe_geo = self._probe_geometry(probe, per_unit)
        # decode and Loader, alternating: each check is predicted with the
        # cores this process got just before and after it
        decode_runs: list[dict[str, Any]] = []
        checks: list[float] = []
        predictions: list[float] = []
        nbatches = 0
        for r in range(rounds):
            # Fresh batches each round: re-reading the same few batches costs
            # less than a loader's stream of new ones.
            fresh = probe_mod.BatchProbe(self.ds, self.batch, DECODE_BATCHES,
                                         self.seed + 1000 * (r + 1))  # fmt: skip
            fresh_geo = self._probe_geometry(fresh, per_unit)
            if self.remote:
                d = probe_mod.decode_remote(fresh, self.threads, fresh_geo.stored_bytes)
            else:
                d = probe_mod.decode_local(fresh, self.threads)
            for w in ("threads", "one"):
                d[w]["cpu_per_byte"] = d[w]["cpu_s"] / fresh_geo.decoded_bytes
            decode_runs.append(d)
            bar.update(1)
            costs = self._costs(measured, decode_runs, probe_geo, cached, regime)
            if check:
                if not nbatches:
                    predicted_s = batch_time(geo, costs)["total"]
                    nbatches = int(min(50, max(4, math.ceil(CHECK_SECONDS / predicted_s))))
                # The cores this process gets, spun just before and after.
                near = probe_mod.spin(self.threads)["available"]
                checks.append(self.loader_run(nbatches, regime))
                available = (near + probe_mod.spin(self.threads)["available"]) / 2
                at_check = replace(costs, available=available)
                per_batch = batch_time(geo, at_check)["total"]
                if regime == "remote":
                    # timed from the start: the first batch's requests first
                    n = self.check_batches(nbatches, regime)
                    per_batch += geo.rounds(costs.concurrency) * (costs.latency or 0.0) / n
                predictions.append(samples_per_s(self.batch, per_batch, self.step_time))
                measured.setdefault("available_at_checks", []).append(available)
            bar.update(1)
        costs = self._costs(measured, decode_runs, probe_geo, cached, regime)
        measured["decode_runs"] = decode_runs
        parts = batch_time(geo, costs)
        loader_only = samples_per_s(self.batch, parts["total"])
        # Geometric means: their ratio is that of the rounds' paired ratios.
        predicted = (
            statistics.geometric_mean(predictions)
            if predictions
            else samples_per_s(self.batch, parts["total"], self.step_time)
        )
        first_epoch = self._first_epoch(geo, costs)
        node = node_samples_per_s(self.batch, geo, costs, self.ranks, self.step_time)
        bar.update(1)
        recs = self.recommend(probe, geo, costs, parts, found, measured)
        bar.update(1)
        report: dict[str, Any] = {
            "store": self.location,
            "array": a.path,
            "shape": list(a.shape),
            "dtype": str(a.dtype),
            "chunks": list(a.chunks),
            "shards": list(a.shards) if a.shards is not None else None,
            "codecs": a.codecs,
            "pattern": {
                "axis": self.axis, "batch": self.batch, "window": self.window,
                "step_time": self.step_time, "ranks": self.ranks, "nodes": self.nodes,
                "threads": self.threads, "samples": len(self.ds),
            },  # fmt: skip
            "regime": regime,
            "geometry": geo.as_dict(),
            "measured": measured,
            "costs": costs.as_dict(),
            "batch_seconds": parts,
            "predicted_samples_per_s": predicted,
            "predicted_loader_samples_per_s": loader_only,
            "predicted_first_epoch_samples_per_s": first_epoch,
            "node": node,
            "nodes": {
                "nodes": self.nodes,
                "samples_per_s": node["samples_per_s"] * self.nodes,
                "assumes": "storage and network scale with the nodes (a parallel filesystem or "
                "an object store); a shared NFS server does not",
            },
            "bottleneck": bottleneck(parts, self.step_time),
            "keeps_ahead_of_model": (
                None if self.step_time is None else loader_only >= self.batch / self.step_time
            ),
            "recommendations": recs,
            "measured_samples_per_s": statistics.geometric_mean(checks) if checks else None,
            "check": {"runs": checks, "predicted_runs": predictions,
                      "batches_per_run": nbatches, "regime": regime,
                      "threads": self.threads},  # fmt: skip
        }
        if checks:
            report["prediction_error"] = predicted / report["measured_samples_per_s"] - 1
        bar.update(1)
        return report

    def _probe_geometry(self, probe: probe_mod.BatchProbe, per_unit: float) -> Geometry:
        """The geometry of the probe's own batches (what its timings cover)."""
        a = self.array
        geos = []
        for b in probe.batches:
            anchors = self.ds.anchors[b]
            geos.append(batch_geometry(a.shape, a.chunks, a.shards, a.dtype.itemsize, self.axis,
                                       self.offsets, anchors.size, anchors, per_unit))  # fmt: skip
        mean = {f: statistics.fmean(getattr(g, f) for g in geos)
                for f in ("chunks", "requests", "stored_bytes", "decoded_bytes")}  # fmt: skip
        return replace(geos[0], **mean)

    def _costs(self, measured: dict[str, Any], runs: list[dict[str, Any]],
               probe_geo: Geometry, cached: float, regime: str) -> Costs:  # fmt: skip
        """The model's costs: medians of the decode runs; the cores this
        process gets, the median of every spin so far."""
        st = measured["storage"]

        def med(which: str, key: str) -> float:
            return statistics.median(r[which][key] for r in runs)

        spins = [r["threads"]["available"] for r in runs]
        spins += measured.get("available_at_checks", [])
        common = {
            "threads": self.threads,
            "cores": self.cores,
            "cpu_s": med("threads", "cpu_per_byte") * probe_geo.decoded_bytes,
            "cpu_s_1": med("one", "cpu_per_byte") * probe_geo.decoded_bytes,
            "efficiency": med("threads", "efficiency"),
            "efficiency_1": med("one", "efficiency"),
            "available": statistics.median(spins),
            "probe_decoded_bytes": probe_geo.decoded_bytes,
            "remote": self.remote,
        }
        if self.remote:
            return Costs(**common, latency=st["latency"], bandwidth=st["bandwidth"],
                         concurrency=st.get("concurrency", 32),
                         fetch_ahead=self._fetch_ahead_depth(probe_geo),
                         **self._fetch_ahead_costs(st))  # fmt: skip
        return Costs(**common, disk_bandwidth=st["disk_bandwidth"],
                     disk_latency=st["disk_latency"], io_cpu_per_byte=st["io_cpu_per_byte"],
                     cached_fraction=0.0 if regime == "cold" else cached,
                     page_cache_share=cached)  # fmt: skip

    def _prefetch_bytes(self) -> int:
        from fastchunk.torch.loader import _default_prefetch_bytes

        return _default_prefetch_bytes()

    def _fetch_ahead_depth(self, geo: Geometry) -> int:
        """Batches the Loader has in flight from an object store: as many as
        its prefetch budget holds, at most FetchAhead's reads in flight."""
        from fastchunk.store.fetch_ahead import IN_FLIGHT

        budget = self._prefetch_bytes()
        if budget <= 0 or not geo.stored_bytes:
            return 0
        return int(max(1, min(IN_FLIGHT, budget // geo.stored_bytes)))

    def _epoch_batches(self, seed: int) -> list[np.ndarray]:
        """The first batches of a shuffled epoch, drawn by the Loader's own
        sampler (enough to cover its fetching ahead several times over)."""
        from fastchunk.torch.sampler import ShardedBatchSampler

        sampler = ShardedBatchSampler(len(self.ds), self.batch, seed=seed, rank=0, world_size=1)
        return sampler.batches(0)[:EPOCH_BATCHES]

    def _fetched_share(self, batches: list[np.ndarray], per_unit: float) -> float:
        """advise_model.fetched_share of these batches' requests (a whole
        object counted at the mean stored bytes of a unit)."""
        named = []
        for b in batches:
            named.append([((id(store), key, offset, length),
                           int(per_unit) if length is None else int(length))
                          for store, requests in self.ds.fetch_requests(b)
                          for key, offset, length in requests if offset is not None])  # fmt: skip
        return fetched_share(named, self._prefetch_bytes())

    @staticmethod
    def _fetch_ahead_costs(st: dict[str, Any]) -> dict[str, float]:
        """Per byte fetched: the wall seconds of fetching ahead (the link, the
        latency shared by the batches in flight) and its CPU-seconds; and the
        share of a batch's stored bytes an epoch fetches."""
        got = st.get("fetch_ahead")
        if not got or "s_per_byte" not in got:
            return {}
        return {"fetch_ahead_s_per_byte": got["s_per_byte"],
                "fetch_cpu_per_byte": got["cpu_per_byte"],
                "server_cpu_per_byte": got.get("server_cpu_per_byte", 0.0),
                "fetched_share": st.get("epoch_fetched_share", 1.0)}  # fmt: skip

    def _hit_seconds(self, hit: dict[str, float], costs: Costs, scale: float) -> float:
        """Wall seconds per batch of a measured cache path (BatchProbe.cost),
        scaled to the pattern's batch, with the cores the model uses."""
        busy = max(1e-3, hit["efficiency"] * costs.available)
        return hit["cpu_s"] * scale / busy

    def _first_epoch(self, geo: Geometry, costs: Costs) -> float:
        """A first epoch: a local store read cold, a bucket as in any epoch."""
        if costs.remote:
            return samples_per_s(self.batch, batch_time(geo, costs)["total"], self.step_time)
        cold = replace(costs, cached_fraction=0.0)
        return samples_per_s(self.batch, batch_time(geo, cold)["total"], self.step_time)

    # ------------------------------------------------------------ advice
    def recommend(self, probe: probe_mod.BatchProbe, geo: Geometry, costs: Costs,
                  parts: dict[str, float], found: ArrayObjects,
                  measured: dict[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
        """Every action that applies, with its predicted gain; `recommended`
        where the gain is worth the change (at least GAIN_WORTH_SAYING), the
        best first."""
        base = parts["total"]
        recs = [self._threads(geo, costs, base), self._ranks(geo, costs)]
        recs.append(self._rechunk(probe, geo, costs, base, measured))
        if self.remote:
            recs.append(self._disk_cache(probe, geo, costs, base, measured))
        recs.append(self._node_cache(probe, geo, costs, base, measured))
        out = [r for r in recs if r is not None]
        for r in out:
            r["recommended"] = r["predicted_gain"] >= GAIN_WORTH_SAYING
        out.sort(key=lambda r: (not r["recommended"], -r["predicted_gain"]))
        return out

    def _gain_fields(self, base: float, seconds: float) -> dict[str, Any]:
        gain = base / seconds if seconds > 0 else math.inf
        after = samples_per_s(self.batch, seconds)
        paced = samples_per_s(self.batch, seconds, self.step_time)
        before = samples_per_s(self.batch, base, self.step_time)
        return {
            "predicted_gain": gain,
            "predicted_samples_per_s": after,
            "predicted_gain_with_model": paced / before if before else 1.0,
        }

    def _threads(self, geo: Geometry, costs: Costs, base: float) -> dict[str, Any]:
        options = sorted({1, *[2**k for k in range(1, 8) if 2**k <= self.cores], self.cores})
        rates = {t: samples_per_s(self.batch, batch_time(geo, costs.at_threads(t))["total"])
                 for t in options}  # fmt: skip
        best_rate = max(rates.values())
        best = min(t for t, r in rates.items() if r >= 0.97 * best_rate)
        seconds = batch_time(geo, costs.at_threads(best))["total"]
        why = (
            f"decoding runs {costs.speedup:.2f}x faster on {self.threads} threads than on one; "
            f"this machine has {self.cores} cores"
        )
        return {
            "action": "threads",
            "command": f"fastchunk.torch.Loader(..., num_threads={best})  "
            f"# or FASTCHUNK_NUM_THREADS={best}",
            "threads": best,
            "predicted_samples_per_s_by_threads": rates,
            "reason": why,
            **self._gain_fields(base, seconds),
        }

    def _ranks(self, geo: Geometry, costs: Costs) -> dict[str, Any] | None:
        options = sorted({1, *[2**k for k in range(1, 8) if 2**k <= 2 * self.cores], self.ranks})
        by = {r: node_samples_per_s(self.batch, geo, costs, r, None) for r in options}
        mine = by[self.ranks]["samples_per_s"]
        best_rate = max(v["samples_per_s"] for v in by.values())
        best = min(r for r, v in by.items() if v["samples_per_s"] >= 0.97 * best_rate)
        return {
            "action": "ranks",
            "command": f"torchrun --nproc-per-node {best} ...  "
            f"# {by[best]['threads_per_rank']} threads each",
            "ranks": best,
            "predicted_node_samples_per_s_by_ranks": {
                r: v["samples_per_s"] for r, v in by.items()
            },
            "limited_by": by[best]["limited_by"],
            "reason": "ranks of one node share its cores (decoding) and its disk; ranks "
            "waiting on an object store's latency overlap their requests",
            "predicted_gain": by[best]["samples_per_s"] / mine if mine else 1.0,
            "predicted_samples_per_s": by[best]["samples_per_s"],
        }

    def _node_cache(self, probe: probe_mod.BatchProbe, geo: Geometry, costs: Costs,
                    base: float, measured: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
        ws = geo.working_set_decoded
        from fastchunk.cache import shm_root

        try:
            shm_free = shutil.disk_usage(shm_root()).free
        except OSError:
            return None
        mem = _mem_available()
        budget = int(min(ws * 1.05 + 64 * 2**20, 0.8 * shm_free, 0.5 * mem))
        if budget <= 64 * 2**20:
            return None
        probe_decoded = self._probe_geometry(probe, 0.0).decoded_bytes
        got = probe_mod.node_cache_batch(probe, self.threads, probe_decoded)
        measured["node_cache"] = got
        hit = self._hit_seconds(got, costs, geo.decoded_bytes / probe_decoded
                                if probe_decoded else 1.0)  # fmt: skip
        parts = batch_time(geo, costs)
        if self.remote and costs.fetch_ahead > 1:
            # Reads from an object store fetch their objects even when the
            # node cache holds them decoded: it saves the decoding only.
            hit = max(parts["network"], hit)
        elif not self.remote and costs.cached_fraction < 1:
            # A cold local read still reads ahead the files of the chunks the
            # node cache holds: the disk's time and the kernel's CPU remain.
            hit = max(hit + parts["io_cpu_seconds"] / costs.busy_cores, parts["storage"])
        share = min(1.0, budget / ws) if ws else 1.0
        seconds = share * hit + (1 - share) * base
        fields = self._gain_fields(base, seconds)
        size = _size_arg(budget)
        name = os.path.basename(self.location.rstrip("/")).split(".")[0] or "data"
        name = "".join(ch if ch.isalnum() or ch in "_.-" else "_" for ch in name)[:60]
        fits = share >= 1.0
        return {
            "action": "node_cache",
            "command": f"FASTCHUNK_SHARED_CACHE={name}:{size}  "
            f"# or fastchunk.set_cache_size('{size}', shared='{name}')",
            "cache_bytes": budget,
            "working_set_bytes": ws,
            "share_held": share,
            "reason": (
                f"the decoded working set ({_size(ws)}) fits in the node's shared memory: "
                "from the second epoch on, chunks are copied instead of read and decoded"
                if fits
                else f"the node can hold {share:.0%} of the decoded working set ({_size(ws)})"
            ) + ("; objects are still fetched from the store" if self.remote else ""),
            "applies_from": "the second epoch",
            **fields,
        }

    def _disk_cache(self, probe: probe_mod.BatchProbe, geo: Geometry, costs: Costs,
                    base: float, measured: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
        ws = geo.working_set_stored
        where = tempfile.gettempdir()
        free = shutil.disk_usage(where).free
        size = int(min(ws * 1.05 + 64 * 2**20, 0.8 * free))
        got = probe_mod.disk_cache_batch(probe, self.location, self.path, self.options,
                                         self.threads, self.make_ds)  # fmt: skip
        measured["disk_cache"] = got
        probe_chunks = self._probe_geometry(probe, 1.0).chunks
        hit = self._hit_seconds(got, costs, geo.chunks / probe_chunks if probe_chunks else 1.0)
        share = min(1.0, size / ws) if ws else 1.0
        seconds = share * hit + (1 - share) * base
        fields = self._gain_fields(base, seconds)
        text = _size_arg(size)
        return {
            "action": "disk_cache",
            "command": f"storage_options={{'cache_dir': '/local/disk/fastchunk-cache', "
            f"'cache_size': '{text}'}}  # or FASTCHUNK_CACHE_DIR=... FASTCHUNK_CACHE_DIR_SIZE="
            f"{text}",
            "cache_bytes": size,
            "working_set_bytes": ws,
            "share_held": share,
            "reason": f"requests to the object store take {parts_share(costs, geo)} of a "
            f"batch; a local copy of the stored objects ({_size(ws)}) serves the second "
            "epoch on from the node's disk",
            "applies_from": "the second epoch",
            **fields,
        }

    def _rechunk(self, probe: probe_mod.BatchProbe, geo: Geometry, costs: Costs, base: float,
                 measured: dict[str, Any]) -> dict[str, Any] | None:  # fmt: skip
        a = self.array
        target = [1 if d == self.axis else s for d, s in enumerate(a.shape)]
        if math.prod(target) * a.dtype.itemsize > MAX_CHUNK_BYTES:
            target = [1 if d == self.axis else c for d, c in enumerate(a.chunks)]
        if list(target) == list(a.chunks) and a.shards is None:
            return None
        many_small = self.remote and geo.requests / max(1, self.batch) > 8
        if geo.amplification < 1.5 and not many_small:
            return None
        codec = _codec_text(a)
        new_geo, seconds = self._measure_layout(probe, target, codec, costs, measured)
        fields = self._gain_fields(base, seconds)
        dst = os.path.basename(self.location.rstrip("/"))
        stem = dst[:-5] if dst.endswith(".zarr") else dst
        dst = f"{stem}-by-axis{self.axis}.zarr"
        cmd = f"fastchunk rechunk {self.location} {dst} --chunks {_fmt_shape(target)} " \
              f"--codec {codec}"  # fmt: skip
        if self.path:
            cmd += f" --path {self.path}"
        if self.remote:
            cmd += " --storage-options '...'"
        return {
            "action": "rechunk",
            "command": cmd,
            "chunks": target,
            "codec": codec,
            "reason": (
                f"one batch decodes {geo.amplification:.1f}x its size "
                f"({geo.chunks:.0f} chunks of {_fmt_shape(a.chunks)}); chunks of "
                f"{_fmt_shape(target)} read each sample whole, decoding "
                f"{new_geo.amplification:.2f}x"
            ),
            "geometry_after": new_geo.as_dict(),
            **fields,
        }


    def _measure_layout(
        self, probe: probe_mod.BatchProbe, target: list[int], codec: str, costs: Costs,
        measured: dict[str, Any],
    ) -> tuple[Geometry, float]:  # fmt: skip
        """The proposed layout measured: the chunks the probe's batches need,
        written in that layout to a temporary local store from the data, read
        as the loader reads them (stored bytes in memory) for the CPU-seconds
        of a batch; its stored sizes give the geometry; the storage the same
        as now."""
        from fastchunk.torch.dataset import ArrayDataset

        a = self.array
        rows = np.concatenate([self.ds.anchors[b] for b in probe.batches])
        rows = (rows[:, None] + np.asarray(self.offsets)[None, :]).reshape(-1)
        where = tempfile.mkdtemp(prefix="fastchunk-advise-layout-")
        try:
            path, sizes = probe_mod.layout_store(a, target, codec, rows, self.axis, where)
            other = fastchunk.open_array(path)
            ds = ArrayDataset(other, self.axis, self.window, missing=self.ds.missing)
            twin = probe_mod.BatchProbe.__new__(probe_mod.BatchProbe)
            twin.ds, twin.batches = ds, probe.batches
            twin.outs, twin.turn = probe.outs, 0
            got = probe_mod.decode_local(twin, self.threads)
        finally:
            shutil.rmtree(where, ignore_errors=True)
        per_unit = statistics.fmean(sizes) if sizes else 0.0
        new_geo = self.geometry(target, None, per_unit)
        decoded = statistics.fmean(
            batch_geometry(a.shape, target, None, a.dtype.itemsize, self.axis, self.offsets,
                           b.size, self.ds.anchors[b], per_unit).decoded_bytes
            for b in probe.batches
        )  # fmt: skip
        t = got["threads"]
        measured["layout"] = {"chunks": target, "codec": codec, "stored_per_chunk": per_unit,
                              "cost": t, "cost_one": got["one"]}  # fmt: skip
        new_costs = replace(costs, cpu_s=t["cpu_s"], efficiency=t["efficiency"],
                            cpu_s_1=got["one"]["cpu_s"], efficiency_1=got["one"]["efficiency"],
                            probe_decoded_bytes=decoded)  # fmt: skip
        return new_geo, batch_time(new_geo, new_costs)["total"]


def parts_share(costs: Costs, geo: Geometry) -> str:
    parts = batch_time(geo, costs)
    return f"{parts['network'] / parts['total']:.0%}" if parts["total"] else "-"


def _mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _size_arg(nbytes: int) -> str:
    """A size as the caches' options take it, rounded up: "3GB", "700MB"."""
    for unit, size in (("GB", 10**9), ("MB", 10**6)):
        if nbytes >= size:
            return f"{math.ceil(nbytes / size)}{unit}"
    return f"{math.ceil(nbytes / 10**6)}MB"


def advise(location: str, **kwargs: Any) -> dict[str, Any]:
    """The report of `fastchunk advise` (see Advisor for the arguments;
    `rounds` and `check` go to Advisor.run). Numbers that are not finite
    (an unbounded rate) are None; dict keys are strings: it is JSON as it is."""
    rounds = kwargs.pop("rounds", 2)
    check = kwargs.pop("check", True)
    return _json_ready(Advisor(location, **kwargs).run(rounds=rounds, check=check))


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# ---------------------------------------------------------------- text


def _rate(x: float | None) -> str:
    if x is None:
        return "-"
    if math.isinf(x):
        return "unbounded"
    return f"{x:,.1f}"


def format_advice(r: dict[str, Any]) -> str:
    p, g, c = r["pattern"], r["geometry"], r["costs"]
    window = f", window {p['window']}" if p["window"] else ""
    lines = [
        f"store {r['store']}  array {r['array'] or '/'}  shape {tuple(r['shape'])} "
        f"{r['dtype']}  chunks {tuple(r['chunks'])}"
        + (f"  shards {tuple(r['shards'])}" if r["shards"] else ""),
        f"pattern: batches of {p['batch']} along axis {p['axis']}{window}, "
        f"{p['threads']} threads, {p['samples']:,} samples"
        + (f", model step {p['step_time']} s" if p["step_time"] else ""),
        "",
        "measured",
    ]
    st = r["measured"]["storage"]
    if c["remote"]:
        lines.append(f"  object store   latency {st['latency'] * 1e3:.1f} ms, "
                     f"{(st['bandwidth'] or 0) / 1e6:,.0f} MB/s per round of "
                     f"{st.get('concurrency', '?')} requests")  # fmt: skip
    else:
        lines.append(f"  disk (cold)    {(st['disk_bandwidth'] or 0) / 1e6:,.0f} MB/s, "
                     f"latency {(st['disk_latency'] or 0) * 1e3:.2f} ms; page cache holds "
                     f"{r['measured']['page_cache_share']:.0%} of the store")  # fmt: skip
    per_cpu = 1 / c["cpu_per_byte"] / 1e9 if c["cpu_per_byte"] else 0
    lines += [
        f"  decoding       {per_cpu:.2f} GB per CPU-second; {c['threads']} threads keep "
        f"{c['efficiency']:.0%} of the {c['available']:.2f} cores this process gets busy "
        f"(this machine has {c['cores']}; {c['speedup']:.2f}x one thread)",
        f"  one batch      {g['chunks']:.1f} chunks, {_size(g['stored_bytes'])} stored, "
        f"{_size(g['decoded_bytes'])} decoded for {_size(g['output_bytes'])} "
        f"(read amplification {g['amplification']:.2f})",
        "",
        "predicted",
    ]
    b = r["batch_seconds"]
    first = _rate(r["predicted_first_epoch_samples_per_s"])
    n = r["node"]
    lines += [
        f"  one batch      {b['total'] * 1e3:.1f} ms (decode {b['decode'] * 1e3:.1f}, "
        f"storage {b['storage'] * 1e3:.1f}, network {b['network'] * 1e3:.1f})",
        f"  one process    {_rate(r['predicted_samples_per_s'])} samples/s "
        f"({r['regime']}; first epoch {first})",
        f"  one node       {_rate(n['samples_per_s'])} samples/s with {n['ranks']} "
        f"rank(s) x {n['threads_per_rank']} threads (limited by {n['limited_by']})",
    ]
    if r["nodes"]["nodes"] > 1:
        lines.append(
            f"  {r['nodes']['nodes']} nodes        {_rate(r['nodes']['samples_per_s'])} samples/s"
        )
    lines.append(f"  bottleneck     {r['bottleneck']}")
    if r["keeps_ahead_of_model"] is not None:
        verdict = "keeps ahead of" if r["keeps_ahead_of_model"] else "falls behind"
        lines.append(f"  the loader {verdict} the model's step")
    lines += ["", "recommendations"]
    for rec in r["recommendations"]:
        if not rec["recommended"]:
            continue
        lines.append(
            f"  {rec['action']:<11} x{rec['predicted_gain']:.2f} -> "
            f"{_rate(rec['predicted_samples_per_s'])} samples/s: {rec['reason']}"
        )
        lines.append(f"  {'':<11} {rec['command']}")
    others = [f"{x['action']} x{x['predicted_gain']:.2f}" for x in r["recommendations"]
              if not x["recommended"]]  # fmt: skip
    if others:
        lines.append("  not worth it: " + ", ".join(others))
    lines += ["", "check (a real Loader run)"]
    if r["measured_samples_per_s"] is None:
        lines.append("  skipped")
    else:
        lines.append(f"  predicted {_rate(r['predicted_samples_per_s'])} samples/s, measured "
                     f"{_rate(r['measured_samples_per_s'])} samples/s "
                     f"({r['prediction_error']:+.0%})")  # fmt: skip
    return "\n".join(lines)
