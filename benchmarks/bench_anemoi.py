"""anemoi users' workloads: the anemoi way (anemoi.datasets.open_dataset, a
torch Dataset reading windows of dates as anemoi-training does, normalized,
DataLoader with 0 and 2 workers) against fastchunk (the same options through
fastchunk.anemoi.open_dataset, then fastchunk.torch.Loader with
normalize="statistics" and layout="anemoi"), on a dataset made by
`anemoi-datasets create` (NetCDF + forcings, two missing dates, Blosc lz4,
one chunk per date); and random single dates `ds[i]` on both views. The
decode floor is c-blosc alone decoding the same chunks with the same threads.

The anemoi side runs in anemoi-datasets' environment (.venv-anemoi, made by
scripts/setup.sh) as a subprocess; both sides read the same samples in the
same order and their checksums must agree. Readers alternate within each
repeat; best of --repeats.

    python benchmarks/bench_anemoi.py                  # 96 dates x 16 variables x 40320 points
    python benchmarks/bench_anemoi.py --quick          # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import DATA_DIR  # noqa: E402
from floor import ChunkFile, Job  # noqa: E402

import fastchunk  # noqa: E402
import fastchunk.anemoi as fa  # noqa: E402
from fastchunk.torch import Loader  # noqa: E402

# anemoi's environment: scripts/setup.sh makes .venv-anemoi (another may be named)
ANEMOI_PY = Path(
    os.environ.get("FASTCHUNK_ANEMOI_PYTHON") or HERE.parent / ".venv-anemoi" / "bin" / "python"
)
OFFSETS = [-1, 0, 1]
NETCDF_VARS = 12  # plus 4 forcings
FORCINGS = ["cos_latitude", "sin_longitude", "cos_julian_day", "insolation"]


def _anemoi(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(ANEMOI_PY), *args], env=env, text=True, capture_output=True, **kw)


def make_dataset(dates: int, lat: int, lon: int, variables: int = NETCDF_VARS + 4) -> Path:
    """An anemoi dataset made by `anemoi-datasets create` (cached under
    benchmarks/data/): smooth fields on a regular lat x lon grid, 6-hourly,
    two missing dates; `variables` counts the 4 forcings."""
    netcdf_vars = variables - len(FORCINGS)
    path = DATA_DIR / f"anemoi-{dates}x{variables}x{lat * lon}.zarr"
    if (path / ".zattrs").exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=DATA_DIR, prefix="anemoi-work-"))
    nc, recipe = work / "source.nc", work / "recipe.yaml"
    script = f"""
import numpy as np, pandas as pd, xarray as xr
t = pd.date_range("2020-01-01", periods={dates}, freq="6h")
lat = np.linspace(90, -90, {lat}); lon = np.linspace(0, 360, {lon}, endpoint=False)
la, lo = np.meshgrid(np.radians(lat), np.radians(lon), indexing="ij")
rng = np.random.default_rng(0)
hours = (t - t[0]) / pd.Timedelta("1h")
v = {{}}
for k in range({netcdf_vars}):
    phase = 2 * np.pi * np.asarray(hours)[:, None, None] / 24.0
    f = 250 + 10 * k + 20 * np.cos(la)[None] * np.cos(lo[None] * (k % 3 + 1) + phase)
    f = f + rng.standard_normal(f.shape) * 0.5
    v[f"var{{k:02d}}"] = (("time", "latitude", "longitude"), f.astype("f4"), {{"units": "K"}})
xr.Dataset(v, coords={{"time": t,
  "latitude": ("latitude", lat, {{"units": "degrees_north", "standard_name": "latitude"}}),
  "longitude": ("longitude", lon, {{"units": "degrees_east", "standard_name": "longitude"}})}}
).to_netcdf("{nc}")
"""
    done = _anemoi(["-c", script])
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    end = np.datetime64("2020-01-01T00:00:00") + np.timedelta64(6 * (dates - 1), "h")
    missing = [str(np.datetime64("2020-01-01T00:00:00") + np.timedelta64(6 * d, "h"))
               for d in (dates // 3, 2 * dates // 3)]  # fmt: skip
    recipe.write_text(
        "dates:\n  start: 2020-01-01T00:00:00\n"
        f"  end: {end}\n  frequency: 6h\n  missing: {json.dumps(missing)}\n"
        "input:\n  join:\n    - netcdf:\n"
        f"        path: {nc}\n"
        "    - forcings:\n        template: ${input.join.0.netcdf}\n"
        f"        param: {json.dumps(FORCINGS)}\n"
    )
    cli = ANEMOI_PY.parent / "anemoi-datasets"
    done = subprocess.run([str(cli), "create", str(recipe), str(path), "--overwrite"],
                          capture_output=True, text=True, cwd=work)  # fmt: skip
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    for f in work.iterdir():
        f.unlink()
    work.rmdir()
    return path


def checksum(batch: torch.Tensor) -> float:
    return float(batch[:, :, :, :1, :].double().nansum())


def fastchunk_loader(view: fa.Dataset, order: list[int], batch_size: int) -> dict[str, Any]:
    loader = Loader(view, batch_size=batch_size, offsets=OFFSETS, normalize="statistics",
                    layout="anemoi", shuffle=False, prefetch=2)  # fmt: skip
    # the anemoi side's order: batches of `order`, as its DataLoader makes them
    batches = [np.asarray(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    loader.sampler.batches = lambda epoch=None: batches  # type: ignore[method-assign]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    n, total = 0, 0.0
    for batch in loader:
        n += batch.shape[0]
        total += checksum(batch)
    seconds = time.perf_counter() - t0
    return {"samples": n, "seconds": seconds, "cpu": time.process_time() - cpu0, "checksum": total}


def fastchunk_layouts(view: fa.Dataset, order: list[int], batch_size: int,
                      repeats: int) -> dict[str, float]:  # fmt: skip
    """samples/s of Loader(view) without normalization in the native layout
    (dates, variables, ensembles, gridpoints) and in anemoi-training's
    (layout="anemoi"), alternated; best of `repeats`."""
    batches = [np.asarray(order[i : i + batch_size]) for i in range(0, len(order), batch_size)]
    loaders = {}
    for layout in ("native", "anemoi"):
        loader = Loader(view, batch_size=batch_size, offsets=OFFSETS, layout=layout,
                        shuffle=False, prefetch=2)  # fmt: skip
        loader.sampler.batches = lambda epoch=None: batches  # type: ignore[method-assign]
        loaders[layout] = loader
    best = dict.fromkeys(loaders, 0.0)
    for _ in range(repeats + 1):  # the first pass warms up
        for layout, loader in loaders.items():
            t0 = time.perf_counter()
            n = sum(b.shape[0] for b in loader)
            best[layout] = max(best[layout], n / (time.perf_counter() - t0))
    return best


def fastchunk_singles(view: fa.Dataset, singles: list[int]) -> dict[str, Any]:
    times, total = [], 0.0
    for i in singles:
        t0 = time.perf_counter()
        x = view[i]
        times.append(time.perf_counter() - t0)
        total += float(np.nansum(x[:, :, :1], dtype=np.float64))
    return {"calls": len(times), "seconds": sum(times), "median": float(np.median(times)),
            "checksum": total}  # fmt: skip


def floor_seconds(path: Path, view: fa.Dataset, anchors: np.ndarray, order: list[int],
                  batch_size: int, threads: int) -> tuple[float, float]:  # fmt: skip
    """c-blosc alone decoding every window's chunks, same threads: best
    (wall seconds, CPU seconds) of 3."""
    data = path / "data"
    nbytes = int(np.prod(view.shape[1:])) * 4
    job = Job("blosc", threads)
    for i in range(0, len(order), batch_size):
        dates = [int(anchors[k]) + o for k in order[i : i + batch_size] for o in OFFSETS]
        files = [ChunkFile(str(data / f"{d}.0.0.0"), 0, (data / f"{d}.0.0.0").stat().st_size)
                 for d in dates]  # fmt: skip
        job.batch(files, nbytes, nbytes)
    runs = [x.split() for x in job.run(3) if x.startswith("repeat ")]
    return min(float(r[2]) for r in runs), min(float(r[3]) for r in runs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dates", type=int, default=96)
    p.add_argument("--grid", default="160x252", help="lat x lon (160x252 = 40320 points, o96)")
    p.add_argument("--variables", type=int, default=NETCDF_VARS + len(FORCINGS),
                   help="variables, the 4 forcings included (27 with --grid 181x360: 1 degree)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--samples", type=int, default=64, help="samples per timed pass")
    p.add_argument("--singles", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="fastchunk threads (0: all cores)")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.quick:
        args.dates, args.grid, args.samples, args.singles, args.repeats = 24, "40x64", 16, 10, 1
    if not ANEMOI_PY.exists():
        raise SystemExit(f"{ANEMOI_PY} is missing: run scripts/setup.sh")
    lat, lon = (int(x) for x in args.grid.split("x"))
    path = make_dataset(args.dates, lat, lon, args.variables)
    if args.threads:
        fastchunk.set_num_threads(args.threads)
    threads = fastchunk.get_num_threads()

    view = fa.open_dataset(str(path))
    anchors = Loader(view, batch_size=1, offsets=OFFSETS).dataset.anchors
    rng = np.random.default_rng(0)
    order = rng.permutation(anchors.size)[: args.samples].tolist()
    present = [i for i in range(len(view)) if i not in view.missing]
    singles = [int(x) for x in rng.choice(present, size=args.singles)]
    job = {"path": str(path), "options": {}, "anchors": anchors.tolist(), "lo": OFFSETS[0],
           "hi": OFFSETS[-1], "order": order, "batch_size": args.batch_size,
           "workers": [0, 2], "singles": singles}  # fmt: skip
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
    chunk_mb = int(np.prod(view.shape[1:])) * 4 / 1e6
    load = os.getloadavg()[0]
    print(f"dataset {path.name}: shape {view.shape}, {chunk_mb:.2f} MB per date, "
          f"missing {sorted(view.missing)}; {args.samples} windows {OFFSETS} in batches of "
          f"{args.batch_size}; fastchunk threads {threads}; load {load:.1f}")  # fmt: skip

    # warm the page cache, then alternate the readers within each repeat
    fastchunk_loader(view, order, args.batch_size)
    best: dict[str, dict[str, Any]] = {}

    cpu_best: dict[str, float] = {}

    def keep(name: str, result: dict[str, Any]) -> None:
        if name not in best or result["seconds"] < best[name]["seconds"]:
            best[name] = result
        if "cpu" in result:
            cpu_best[name] = min(cpu_best.get(name, float("inf")), result["cpu"])

    for _ in range(args.repeats):
        done = _anemoi([str(HERE / "anemoi_side.py"), f.name])
        if done.returncode:
            raise RuntimeError(done.stderr[-4000:])
        side = json.loads(done.stdout.strip().splitlines()[-1])
        for key in ("loader_0", "loader_2", "single"):
            keep("anemoi_" + key, side[key])
        keep("fastchunk_loader", fastchunk_loader(view, order, args.batch_size))
        keep("fastchunk_single", fastchunk_singles(view, singles))
    os.unlink(f.name)
    floor, floor_cpu = floor_seconds(path, view, anchors, order, args.batch_size, threads)

    for a, b in (("anemoi_loader_0", "fastchunk_loader"), ("anemoi_loader_2", "fastchunk_loader"),
                 ("anemoi_single", "fastchunk_single")):  # fmt: skip
        ca, cb = best[a]["checksum"], best[b]["checksum"]
        if not np.isclose(ca, cb, rtol=1e-6):
            raise SystemExit(f"checksums differ: {a} {ca} against {b} {cb}")

    rate = {k: v["samples"] / v["seconds"] for k, v in best.items() if "loader" in k}
    per_cpu = {k: args.samples / v for k, v in cpu_best.items()}
    best_anemoi = max(rate["anemoi_loader_0"], rate["anemoi_loader_2"])
    best_anemoi_cpu = max(per_cpu["anemoi_loader_0"], per_cpu["anemoi_loader_2"])
    floor_rate, floor_per_cpu = args.samples / floor, args.samples / floor_cpu
    print(f"\n{'reader':40s} {'samples/s':>9s} {'x floor':>7s} {'fc x':>6s}"
          f" {'per CPU-s':>9s} {'x floor':>7s} {'fc x':>6s}")  # fmt: skip
    fc, fc_cpu = rate["fastchunk_loader"], per_cpu["fastchunk_loader"]
    for name, label in (("anemoi_loader_0", "anemoi Dataset + DataLoader, 0 workers"),
                        ("anemoi_loader_2", "anemoi Dataset + DataLoader, 2 workers"),
                        ("fastchunk_loader", "fastchunk Loader (view)")):  # fmt: skip
        r, c = rate[name], per_cpu[name]
        print(f"{label:40s} {r:9.1f} {r / floor_rate:7.2f} {fc / r:6.2f}"
              f" {c:9.1f} {c / floor_per_cpu:7.2f} {fc_cpu / c:6.2f}")  # fmt: skip
    print(f"{'decode floor (c-blosc, same chunks)':40s} {floor_rate:9.1f} {1.0:7.2f} {'':6s}"
          f" {floor_per_cpu:9.1f} {1.0:7.2f}")  # fmt: skip
    sa, sf = best["anemoi_single"], best["fastchunk_single"]
    print(
        f"\nrandom single dates ds[i]: anemoi {sa['median'] * 1e3:.2f} ms, "
        f"fastchunk view {sf['median'] * 1e3:.2f} ms (median), "
        f"fastchunk x {sa['median'] / sf['median']:.2f}"
    )
    layouts = fastchunk_layouts(view, order, args.batch_size, args.repeats)
    print(
        f"Loader without normalization: native layout {layouts['native']:.1f} samples/s, "
        f"layout='anemoi' {layouts['anemoi']:.1f} samples/s: "
        f"{layouts['anemoi'] / layouts['native']:.2f}x the native layout (target 0.8x)"
    )
    print(
        f"Loader against the best anemoi setup: {fc / best_anemoi:.2f}x wall, "
        f"{fc_cpu / best_anemoi_cpu:.2f}x per CPU-second (target 4x); view ds[i]: "
        f"{sa['median'] / sf['median']:.2f}x (target 1.5x); load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
