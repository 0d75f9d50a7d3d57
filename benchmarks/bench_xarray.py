"""xarray users' reads side by side: engine="fastchunk" against engine="zarr"
(zarr-python's default codec pipeline, zarrs', fastchunk's) and
xarray-tensorstore, each without dask and with dask (chunks={}), with
fastchunk's own Array (no xarray) as the reference, on the stores of
bench_zarr_api.py laid out as xarray datasets (dimension names, a time
coordinate, consolidated metadata).

    python benchmarks/bench_xarray.py --quick          # small stores, a smoke run
    python benchmarks/bench_xarray.py                  # 256 x 16 x 40320, zstd blosc sharded

Workloads, on the data variable `data` (time, variable, ensemble, cell), each
timed over --batches calls, best of --repeats (readers interleaved):
  random   ds.isel(time=b).load(), b 8 random times
  window   ds.isel(time=slice(s, s + 8)).load()
  region   ds.isel(time=b, cell=slice(r, r + cells // 4)).load(): a quarter of the grid
  full     ds.load() (once per repeat)

Readers: zarr-default, zarr-zarrs, zarr-fcpipe (xr.open_dataset(engine="zarr")
with zarr.config codec_pipeline.path set: zarr's BatchedCodecPipeline,
zarrs.ZarrsCodecPipeline, fastchunk.zarr.CodecPipeline), tensorstore
(xarray_tensorstore.open_zarr, loads started with xarray_tensorstore.read as
its documentation advises), fastchunk (engine="fastchunk"); each also +dask
(chunks={}; for tensorstore .chunk() to the stored chunks); and `take`:
fastchunk.open(store)["data"] (take / orthogonal indexing, no xarray); and
memory: the dataset loaded into memory first (numpy; +dask: chunked as
engine="fastchunk" chunks it), the floor of xarray's and dask's own costs.
Every reader gets --threads threads (zarr's and zarrs' pools, tensorstore's
data_copy_concurrency, fastchunk.set_num_threads, dask's thread pool).
Datasets are opened once, untimed, with cache=False so a load never keeps
data for the next one. Page cache warm. Every reader's first result is
checked against engine="zarr"'s (xr.testing.assert_identical).

Columns: GB/s of the data variable's bytes; ratios to the xarray default
(zarr-default, same dask setting), to xarray-tensorstore (same dask
setting) and to take; CPU seconds of the process during the best run; peak
MB: how far the resident set of a fresh process (after opening the store)
rose during the workload's first call (the kernel's high-water mark, reset
before the call; the output itself included). Results: a table and
benchmarks/results/xarray.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_zarr_api import PIPELINES, xarray_store  # noqa: E402
from common import ENCODINGS, RESULTS_DIR, StoreSize  # noqa: E402
from make_stores import add_size_args, parse_size, write_store  # noqa: E402

BATCH = 8
GB = 1e9
WORKLOADS = ("random", "window", "region", "full")


class Reader:
    """One way an xarray user reads the store."""

    def __init__(self, name: str, dask: bool, path: Path, threads: int) -> None:
        self.name = name + ("+dask" if dask else "")
        self.base = name
        self.dask = dask
        self.path = path
        self.threads = threads
        self.ds = self._open()

    def _open(self) -> Any:
        import xarray as xr
        import zarr

        chunks = {} if self.dask else None
        if self.base.startswith("zarr-"):
            pipeline = PIPELINES[self.base[len("zarr-"):].replace("fcpipe", "fastchunk")]
            self.cfg: dict[str, Any] | None = {"codec_pipeline.path": pipeline}
            with zarr.config.set(self.cfg):
                return xr.open_dataset(self.path, engine="zarr", chunks=chunks, cache=False)
        self.cfg = None
        if self.base == "fastchunk":
            return xr.open_dataset(self.path, engine="fastchunk", chunks=chunks, cache=False)
        if self.base == "memory":
            # The data already in memory: with dask, in fastchunk's dask
            # chunks; what dask costs with no reading at all.
            ds = xr.open_dataset(self.path, engine="fastchunk").load()
            if self.dask:
                ds = ds.chunk(ds["data"].encoding["preferred_chunks"])
            return ds
        if self.base == "tensorstore":
            import tensorstore
            import xarray_tensorstore

            ctx = tensorstore.Context({"data_copy_concurrency": {"limit": self.threads},
                                       "file_io_concurrency": {"limit": self.threads}})
            ds = xarray_tensorstore.open_zarr(str(self.path), context=ctx)
            if self.dask:
                ds = ds.chunk({"time": ds["data"].encoding.get("chunks", (1,))[0]})
            return ds
        raise ValueError(self.base)

    def load(self, sel: dict[str, Any]) -> Any:
        import zarr

        view = self.ds.isel(sel) if sel else self.ds.copy(deep=False)
        if self.base == "tensorstore" and not self.dask:
            import xarray_tensorstore

            view = xarray_tensorstore.read(view)
        if self.cfg is not None:
            with zarr.config.set(self.cfg):
                return view.load()
        return view.load()


class Take:
    """fastchunk's own Array: the same selections without xarray."""

    name = "take"
    dask = False

    def __init__(self, path: Path) -> None:
        import fastchunk

        self.a = fastchunk.open(path, "data")

    def load(self, sel: dict[str, Any]) -> Any:
        t = sel.get("time", slice(None))
        cells = sel.get("cell", slice(None))
        if isinstance(t, slice):
            return self.a[t, :, :, cells]
        if cells == slice(None):
            return self.a.take(t, axis=0)
        return self.a[t, :, :, cells]


def selections(workload: str, size: StoreSize, batches: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    n = size.dates
    if workload == "full":
        return [{}]
    out = []
    for _ in range(batches):
        if workload == "window":
            s = int(rng.integers(0, n - BATCH + 1))
            out.append({"time": slice(s, s + BATCH)})
            continue
        b = rng.choice(n, size=min(BATCH, n), replace=False)
        if workload == "random":
            out.append({"time": b})
        else:
            quarter = size.points // 4
            r = int(rng.integers(0, size.points - quarter + 1))
            out.append({"time": b, "cell": slice(r, r + quarter)})
    return out


def nbytes(sel: dict[str, Any], size: StoreSize) -> int:
    t = sel.get("time", slice(None))
    times = len(range(size.dates)[t]) if isinstance(t, slice) else len(t)
    c = sel.get("cell", slice(None))
    cells = len(range(size.points)[c])
    return times * size.variables * cells * 4


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def probe_memory(args: argparse.Namespace) -> None:
    """--probe READER WORKLOAD: in this fresh process, open the reader, reset
    the peak resident set (/proc/self/clear_refs), make the workload's first
    call and print how far the resident set rose above where it was."""
    import dask
    import zarr

    import fastchunk

    zarr.config.set({"threading.max_workers": args.threads})
    fastchunk.set_num_threads(args.threads)
    dask.config.set(scheduler="threads", num_workers=args.threads)
    size = parse_size(args)
    name, workload = args.probe
    path = xarray_store(args.encodings, size, write_store(args.encodings, size))
    base, _, suffix = name.partition("+")
    reader = Take(path) if name == "take" else Reader(base, bool(suffix), path, args.threads)
    sel = selections(workload, size, args.batches, args.seed)[0]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = _status_kb("VmRSS")
    reader.load(sel)
    print(json.dumps({"peak_bytes": _status_kb("VmHWM") - before}))


def peak_memory(encoding: str, name: str, workload: str, args: argparse.Namespace) -> float:
    """MB the resident set of a fresh process rose for one call (probe_memory)."""
    import subprocess

    cmd = [sys.executable, __file__, "--probe", name, workload, "--encodings", encoding,
           "--threads", str(args.threads), "--batches", str(args.batches),
           "--seed", str(args.seed)]
    for opt in ("dates", "variables", "points"):
        if getattr(args, opt) is not None:
            cmd += [f"--{opt}", str(getattr(args, opt))]
    if args.quick:
        cmd.append("--quick")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["peak_bytes"] / 1e6


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def check(readers: list[Any], sels: list[dict[str, Any]]) -> None:
    import xarray as xr

    ref = readers[0]
    for sel in sels[:1]:
        want = ref.load(sel)
        for r in readers[1:]:
            got = r.load(sel)
            if isinstance(r, Take):
                np.testing.assert_array_equal(got, want["data"].values, err_msg=r.name)
            else:
                xr.testing.assert_identical(got, want)


def bench_store(encoding: str, size: StoreSize, args: argparse.Namespace) -> list[dict[str, Any]]:
    import dask

    import fastchunk

    path = xarray_store(encoding, size, write_store(encoding, size))
    names = [n for n in args.readers.split(",") if n != "take"]
    readers: list[Any] = [Reader(n, d, path, args.threads) for d in (False, True) for n in names]
    if "take" in args.readers.split(","):
        readers.append(Take(path))
    rows = []
    for wl in args.workloads.split(","):
        sels = selections(wl, size, args.batches, args.seed)
        total = sum(nbytes(s, size) for s in sels)
        check(readers, sels)
        best = {r.name: (float("inf"), 0.0) for r in readers}
        for _ in range(args.repeats):  # interleaved: the machine's load hits all alike
            for r in readers:
                wall, cpu = timed(lambda r=r, sels=sels: [r.load(s) for s in sels])
                if wall < best[r.name][0]:
                    best[r.name] = (wall, cpu)
        for r in readers:
            wall, cpu = best[r.name]
            peak = peak_memory(encoding, r.name, wl, args) if args.memory else None
            rows.append({"store": encoding, "workload": wl, "reader": r.name, "dask": r.dask,
                         "seconds": wall, "cpu_seconds": cpu, "gbps": total / wall / GB,
                         "peak_mb": peak, "bytes": total})
        print(table([x for x in rows if x["workload"] == wl and x["store"] == encoding]),
              flush=True)
    del dask, fastchunk
    return rows


def ratios(rows: list[dict[str, Any]]) -> None:
    by = {(r["store"], r["workload"], r["reader"]): r for r in rows}
    for r in rows:
        suffix = "+dask" if r["dask"] else ""
        for key, other in (("x_default", "zarr-default" + suffix),
                           ("x_tensorstore", "tensorstore" + suffix), ("x_take", "take"),
                           ("x_memory", "memory" + suffix)):
            o = by.get((r["store"], r["workload"], other))
            r[key] = o["seconds"] / r["seconds"] if o else None


def table(rows: list[dict[str, Any]]) -> str:
    ratios(rows)
    head = (f"{'store':8s} {'workload':8s} {'reader':18s} {'GB/s':>6s} {'x default':>9s} "
            f"{'x ts':>6s} {'x take':>6s} {'x mem':>6s} {'CPU s':>6s} {'peak MB':>8s}")
    lines = [head, "-" * len(head)]

    def f(v: float | None, w: int) -> str:
        return f"{v:{w}.2f}" if v is not None else f"{'-':>{w}s}"

    for r in rows:
        lines.append(f"{r['store']:8s} {r['workload']:8s} {r['reader']:18s} {r['gbps']:6.2f} "
                     f"{f(r['x_default'], 9)} {f(r['x_tensorstore'], 6)} {f(r['x_take'], 6)} "
                     f"{f(r['x_memory'], 6)} "
                     f"{r['cpu_seconds']:6.2f} {f(r['peak_mb'], 8)}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_size_args(p)
    p.add_argument("--encodings", default=",".join(ENCODINGS))
    p.add_argument("--readers", default="zarr-default,zarr-zarrs,zarr-fcpipe,tensorstore,"
                   "fastchunk,memory,take")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batches", type=int, default=12, help="calls per workload (not full)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=RESULTS_DIR / "xarray.json")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="skip the peak memory probes (a fresh process per reader and workload)")
    p.add_argument("--probe", nargs=2, metavar=("READER", "WORKLOAD"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if not args.quick and args.dates is None:
        args.dates = 256
    if args.probe:
        probe_memory(args)
        return
    import dask
    import xarray
    import zarr

    import fastchunk

    zarr.config.set({"threading.max_workers": args.threads})
    fastchunk.set_num_threads(args.threads)
    dask.config.set(scheduler="threads", num_workers=args.threads)
    size = parse_size(args)
    rows: list[dict[str, Any]] = []
    for enc in args.encodings.split(","):
        rows += bench_store(enc, size, args)
    print()
    print(table(rows))
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    versions = {"fastchunk": fastchunk.__version__, "zarr": zarr.__version__,
                "xarray": xarray.__version__, "dask": dask.__version__,
                "numpy": np.__version__, "python": platform.python_version()}
    for mod in ("zarrs", "xarray_tensorstore", "tensorstore"):
        try:
            versions[mod] = getattr(__import__(mod), "__version__", "?")
        except ImportError:
            pass
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": " ".join(sys.argv), "size": size.tag(), "threads": args.threads,
        "repeats": args.repeats, "batches": args.batches, "load_average": load,
        "versions": versions, "rows": rows,
    }, indent=1))


if __name__ == "__main__":
    main()
