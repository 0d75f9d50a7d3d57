"""Reads through the zarr-python API with three codec pipelines side by side:
zarr-python's default, zarrs' (zarrs.ZarrsCodecPipeline, its python fallback
allowed, as users run it) and fastchunk's (fastchunk.zarr.CodecPipeline), on
the anemoi-like stores of make_stores.py, with the decode floor.

    python benchmarks/bench_zarr_api.py --quick       # small stores, a smoke run
    python benchmarks/bench_zarr_api.py               # 512 x 16 x 40320

Workloads (each the best of --repeats runs, pipelines interleaved):
  full     a[...]
  oindex   a.oindex[idx] for batches of 8 random dates
  xarray   xr.open_zarr(store).isel(time=idx).load() for the same batches, on a
           copy of the store laid out as an xarray dataset (dimension names,
           a time coordinate, consolidated metadata); open_zarr's default
           chunking (dask, one task per chunk) as users call it

Throughput is GB/s of decoded output; every pipeline's result is checked
against the default's. Two floors: `floor` decodes the same chunk files with
the C library alone (floor.py) in the same threads; `api` is zarr-python's own
cost around the pipeline (indexer, output buffer, event loop, and for xarray
dask), measured with a pipeline that reads nothing. Results: a table on
stdout and benchmarks/results/zarr_api.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA_DIR, ENCODINGS, RESULTS_DIR, StoreSize  # noqa: E402
from floor import Floor  # noqa: E402
from make_stores import add_size_args, parse_size, write_store  # noqa: E402

PIPELINES = {
    "default": "zarr.core.codec_pipeline.BatchedCodecPipeline",
    "zarrs": "zarrs.ZarrsCodecPipeline",
    "fastchunk": "fastchunk.zarr.CodecPipeline",
}
GATHER_DATES = 8
GB = 1e9
NO_READ = "bench_zarr_api.NoReadPipeline"


def register_no_read() -> None:
    """A pipeline that leaves the output as zarr allocated it: what zarr's
    API costs with an infinitely fast pipeline."""
    from zarr.core.codec_pipeline import BatchedCodecPipeline
    from zarr.registry import register_pipeline

    class NoReadPipeline(BatchedCodecPipeline):
        async def read(self, batch_info: Any, out: Any, drop_axes: tuple[int, ...] = ()) -> None:
            list(batch_info)

    NoReadPipeline.__module__ = "bench_zarr_api"
    NoReadPipeline.__qualname__ = "NoReadPipeline"
    register_pipeline(NoReadPipeline)


def xarray_store(encoding: str, size: StoreSize, src: Path) -> Path:
    """The store as an xarray dataset: variable `data` (time, variable,
    ensemble, cell) with the same chunks and codecs, and a time coordinate."""
    import numcodecs
    import zarr
    from zarr.codecs import ZstdCodec

    dst = DATA_DIR / f"xr-{encoding}-{size.tag()}.zarr"
    done = dst / "complete"
    if done.exists():
        return dst
    fmt = 2 if encoding == "blosc" else 3
    g = zarr.open_group(str(dst), mode="w", zarr_format=fmt)
    dims = ["time", "variable", "ensemble", "cell"]
    kw: dict[str, Any] = dict(shape=size.shape, dtype="float32", fill_value=np.nan,
                              chunks=(1, size.variables, 1, size.points))
    if encoding == "blosc":
        kw["compressors"] = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        kw["attributes"] = {"_ARRAY_DIMENSIONS": dims}
    else:
        kw["compressors"] = ZstdCodec(level=3)
        kw["dimension_names"] = dims
        if encoding == "sharded":
            from common import SHARD_DATES

            kw["shards"] = (SHARD_DATES, size.variables, 1, size.points)
    data = g.create_array("data", **kw)
    tkw: dict[str, Any] = dict(shape=(size.dates,), dtype="int64", chunks=(size.dates,))
    tattrs = {"units": "hours since 2000-01-01", "calendar": "proleptic_gregorian"}
    if fmt == 2:
        tkw["attributes"] = {**tattrs, "_ARRAY_DIMENSIONS": ["time"]}
    else:
        tkw["attributes"] = tattrs
        tkw["dimension_names"] = ["time"]
    t = g.create_array("time", **tkw)
    t[:] = np.arange(size.dates) * 6
    a = zarr.open_array(str(src), mode="r")
    for start in range(0, size.dates, 32):
        data[start : start + 32] = a[start : start + 32]
    zarr.consolidate_metadata(str(dst))
    done.write_text("1")
    return dst


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


class Opened:
    """One pipeline's view of one store, through zarr and xarray."""

    def __init__(self, pipeline: str, path: Path, xr_path: Path) -> None:
        import xarray as xr
        import zarr

        self.cfg = {"codec_pipeline.path": PIPELINES.get(pipeline, NO_READ)}
        with zarr.config.set(self.cfg):
            self.a = zarr.open_array(str(path), mode="r")
            self.xr_path = xr_path
        self.xr = xr

    def full(self) -> np.ndarray:
        return self.a[...]

    def oindex(self, idx: np.ndarray) -> np.ndarray:
        return self.a.oindex[idx]

    def xarray(self, idx: np.ndarray) -> Any:
        import zarr

        with zarr.config.set(self.cfg):
            # The no-read pipeline leaves the time values unset: not decoded.
            ds = self.xr.open_zarr(self.xr_path, decode_times=self.cfg["codec_pipeline.path"]
                                   != NO_READ)
            return ds.isel(time=idx).load()


def bench_store(encoding: str, size: StoreSize, threads: int, repeats: int, batches: int,
                seed: int) -> list[dict[str, Any]]:
    import zarr

    import fastchunk

    path = write_store(encoding, size)
    xr_path = xarray_store(encoding, size, path)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(size.dates)
    nb = max(1, min(batches, size.dates // GATHER_DATES))
    gathers = [perm[i * GATHER_DATES : (i + 1) * GATHER_DATES] for i in range(nb)]
    opened = {p: Opened(p, path, xr_path) for p in PIPELINES}
    api = Opened("api", path, xr_path)
    ref = opened["default"]
    want_full = ref.full()
    for name, o in opened.items():  # correctness first, and warm caches
        np.testing.assert_array_equal(o.full(), want_full, err_msg=name)
        np.testing.assert_array_equal(o.oindex(gathers[0]), want_full[gathers[0]], err_msg=name)
        got = o.xarray(gathers[0])["data"].values
        np.testing.assert_array_equal(got, want_full[gathers[0]], err_msg=name)
    floor = Floor(path, encoding, size, threads)
    work = {
        "full": (lambda o: (lambda: o.full()), size.nbytes, lambda: floor.full()[0]),
        "oindex": (lambda o: (lambda: [o.oindex(i) for i in gathers]),
                   len(gathers) * GATHER_DATES * size.chunk_bytes,
                   lambda: floor.take(gathers)[0]),
        "xarray": (lambda o: (lambda: [o.xarray(i) for i in gathers]),
                   len(gathers) * GATHER_DATES * size.chunk_bytes, None),
    }
    rows = []
    fastchunk.set_num_threads(threads)
    for wl, (make, nbytes, floor_fn) in work.items():
        secs = {p: float("inf") for p in opened}
        for _ in range(repeats):  # interleaved: the machine's load hits all alike
            for p, o in opened.items():
                secs[p] = min(secs[p], best_of(make(o), 1))
        floor_s = floor_fn() if floor_fn else None
        api_s = min(best_of(make(api), 1) for _ in range(repeats))
        for p in opened:
            rows.append({"store": encoding, "workload": wl, "pipeline": p,
                         "seconds": secs[p], "gbps": nbytes / secs[p] / GB,
                         "vs_default": secs["default"] / secs[p],
                         "vs_zarrs": secs["zarrs"] / secs[p],
                         "floor_gbps": nbytes / floor_s / GB if floor_s else None,
                         "api_gbps": nbytes / api_s / GB})
    del zarr
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'store':8s} {'workload':8s} {'pipeline':10s} {'GB/s':>7s} {'x default':>9s} " \
           f"{'x zarrs':>8s} {'floor GB/s':>10s} {'api GB/s':>9s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        floor = f"{r['floor_gbps']:10.2f}" if r["floor_gbps"] else f"{'-':>10s}"
        lines.append(f"{r['store']:8s} {r['workload']:8s} {r['pipeline']:10s} {r['gbps']:7.2f} "
                     f"{r['vs_default']:9.2f} {r['vs_zarrs']:8.2f} {floor} {r['api_gbps']:9.2f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_args(p)
    p.add_argument("--encodings", default=",".join(ENCODINGS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batches", type=int, default=8, help="gather batches per workload")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "zarr_api.json")
    args = p.parse_args()
    import zarr

    # zarr decodes in its loop's thread pool, zarrs sizes its pool from the
    # same key: every reader gets the same threads.
    zarr.config.set({"threading.max_workers": args.threads})
    register_no_read()
    size = parse_size(args)
    rows: list[dict[str, Any]] = []
    for enc in args.encodings.split(","):
        rows += bench_store(enc, size, args.threads, args.repeats, args.batches, args.seed)
    print(table(rows))
    import xarray
    import zarrs

    import fastchunk

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": " ".join(sys.argv),
        "size": size.tag(), "threads": args.threads, "repeats": args.repeats,
        "versions": {"fastchunk": fastchunk.__version__, "zarr": zarr.__version__,
                     "zarrs": zarrs.__version__, "xarray": xarray.__version__,
                     "numpy": np.__version__, "python": platform.python_version()},
        "rows": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
