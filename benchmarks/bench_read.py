"""Side-by-side read benchmark: fastchunk, zarr-python, zarr-python + zarrs,
tensorstore and the decode floor, on the same anemoi-like stores, the same
random batches and the same thread count.

    python benchmarks/bench_read.py --quick        # smoke run on small stores
    python benchmarks/bench_read.py                # 512 x 16 x 40320 (about 1.3 GB a store)

Workloads (each the best of --repeats runs, readers interleaved):
  gather   batches of 8 random dates (an epoch's shuffle), Array.take
  windows  batches of 4 samples of 3 consecutive dates
  full     the whole array
  grid     the first quarter of the gridpoints of batches of 8 random dates;
           grid-whole reads the same dates whole, for the ratio
  latency  one element a[i, j, 0, k] at random places, median microseconds
  kept     single-date reads a[i] whose outputs are all kept (fresh memory each
           time), each reader in fresh processes, against the same reads with
           freed outputs (benchmarks/kept.py)

Throughput is GB/s of decoded output. Two floors, the C libraries alone
(libzstd, c-blosc) with the same threads into one preallocated buffer: `floor`
reads the same chunk files inside the timing (page cache warm) with pread,
`decode-floor` decodes copies of them already in memory (decoding alone).
Every reader is reported against both. Results: a table on stdout,
benchmarks/results/latest.json and .png.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ENCODINGS, RESULTS_DIR, StoreSize  # noqa: E402
from floor import Floor  # noqa: E402
from kept import KEPT_READERS, run_kept  # noqa: E402
from make_stores import add_size_args, parse_size, write_store  # noqa: E402

from fastchunk.tools.readers import READERS, Reader, configure_zarr, open_reader  # noqa: E402

FLOOR = "floor"  # pread + decode
DECODE_FLOOR = "decode-floor"  # decode alone, the stored bytes already in memory
FLOORS = {FLOOR: "pread", DECODE_FLOOR: "memory"}
GATHER_DATES = 8
WINDOW_SAMPLES, WINDOW_LENGTH = 4, 3
LATENCY_CALLS = 300
MB = 1 << 20


# ------------------------------------------------------------------ workloads
class Workloads:
    """The random batches, drawn once and used by every reader."""

    def __init__(self, size: StoreSize, seed: int, max_batches: int) -> None:
        rng = np.random.default_rng(seed)
        n = size.dates
        perm = rng.permutation(n)
        nb = max(1, min(max_batches, n // GATHER_DATES))
        self.gather = [perm[i * GATHER_DATES : (i + 1) * GATHER_DATES] for i in range(nb)]
        nw = max(1, min(max_batches // 2, n // (WINDOW_SAMPLES * WINDOW_LENGTH)))
        starts = rng.integers(0, n - WINDOW_LENGTH + 1, size=(nw, WINDOW_SAMPLES))
        self.windows = [s[:, None] + np.arange(WINDOW_LENGTH)[None, :] for s in starts]
        ng = max(1, min(max_batches // 2, n // GATHER_DATES))
        self.grid = [rng.choice(n, GATHER_DATES, replace=False) for _ in range(ng)]
        self.quarter = max(1, size.points // 4)
        self.elements = [
            (
                int(rng.integers(n)),
                int(rng.integers(size.variables)),
                int(rng.integers(size.points)),
            )
            for _ in range(LATENCY_CALLS)
        ]


def touched(shape: tuple[int, ...]) -> np.ndarray:
    """A preallocated output whose pages are already mapped."""
    out = np.empty(shape, dtype=np.float32)
    out.fill(0)
    return out


class Outputs:
    def __init__(self, size: StoreSize, w: Workloads) -> None:
        v, p = size.variables, size.points
        self.gather = touched((GATHER_DATES, v, 1, p))
        self.windows = touched((WINDOW_SAMPLES, WINDOW_LENGTH, v, 1, p))
        self.grid = touched((GATHER_DATES, v, 1, w.quarter))
        self.full: np.ndarray | None = None

    def full_buffer(self, size: StoreSize) -> np.ndarray:
        if self.full is None:
            self.full = touched(size.shape)
        return self.full


# ------------------------------------------------------------------ timing
def cpu_seconds() -> float:
    """User + system time of every thread of this process."""
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds and the result of one call."""
    gc.collect()
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    result = fn()
    wall = time.perf_counter() - t0
    return wall, cpu_seconds() - c0, result


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    best, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu, _ = timed(fn)
        best, best_cpu = min(best, wall), min(best_cpu, cpu)
    return best, best_cpu


def run_batches(fn: Callable[[np.ndarray], Any], batches: list[np.ndarray]) -> Callable[[], None]:
    def go() -> None:
        for b in batches:
            fn(b)

    return go


def median_call_us(r: Reader, elements: list[tuple[int, int, int]]) -> float:
    """Median microseconds of single-element reads at `elements`."""
    i, j, k = elements[0]
    r.element((i, j, 0, k))
    calls = []
    for i, j, k in elements:
        t0 = time.perf_counter()
        r.element((i, j, 0, k))
        calls.append(time.perf_counter() - t0)
    return statistics.median(calls) * 1e6


def warm_page_cache(path: Path) -> int:
    total = 0
    for p in sorted(path.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                while chunk := f.read(8 * MB):
                    total += len(chunk)
    return total


def stored_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def grid(r: Reader, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
    """The first q gridpoints of dates idx: an orthogonal read."""
    return r.oindex((idx, slice(None), slice(None), slice(0, q)), out)


# ------------------------------------------------------------------ correctness
def check_reader(r: Reader, ref: Reader, w: Workloads, out: Outputs) -> None:
    """Raises when `r` disagrees with fastchunk on any request kind."""

    def same(a: Any, b: Any, what: str) -> None:
        if not np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True):
            raise AssertionError(f"{r.name} differs from fastchunk on {what}")

    g = w.gather[0]
    same(r.take(g, 0, out.gather).copy(), ref.take(g, 0, out.gather).copy(), "gather")
    win = w.windows[0]
    same(r.take(win, 0, out.windows).copy(), ref.take(win, 0, out.windows).copy(), "windows")
    gi = w.grid[0]
    same(grid(r, gi, w.quarter, out.grid).copy(), grid(ref, gi, w.quarter, out.grid).copy(),
         "grid")  # fmt: skip
    for i, j, k in w.elements[:5]:
        same(r.element((i, j, 0, k)), ref.element((i, j, 0, k)), f"element {(i, j, k)}")


def check_full(name: str, result: Any, want: np.ndarray) -> None:
    """The full read of `name` against fastchunk's (run first, in `want`)."""
    if not np.array_equal(np.asarray(result), want, equal_nan=True):
        raise AssertionError(f"{name} differs from fastchunk on the full read")


def check_floor(floor: Floor, ref: Reader, w: Workloads, out: Outputs) -> None:
    g = w.gather[0]
    if not np.array_equal(
        floor.take_output(g), ref.take(g, 0, out.gather).reshape(-1), equal_nan=True
    ):
        raise AssertionError("the decode floor differs from fastchunk on gather")
    gi = w.grid[0]
    want = grid(ref, gi, w.quarter, out.grid).reshape(-1)
    if not np.array_equal(floor.grid_output(gi, w.quarter), want, equal_nan=True):
        raise AssertionError("the decode floor differs from fastchunk on grid")


# ------------------------------------------------------------------ memory
def memory_probe(args: argparse.Namespace) -> None:
    """Subprocess mode: one gather with `args.probe_reader` (allocating its
    output), printing the resident-set high-water mark above the baseline."""
    path = Path(args.probe_store)
    name = "fastchunk-alloc" if args.probe_reader == "fastchunk" else args.probe_reader
    r = open_reader(name, path, threads=args.threads)
    idx = np.array([int(x) for x in args.probe_dates.split(",")])
    r.element((0, 0, 0, 0))  # builds whatever the reader builds lazily
    gc.collect()
    reset = True
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
    except OSError:
        reset = False
    base = proc_status_kb("VmRSS")
    shape = (len(idx), *r.shape[1:])
    res = r.take(idx, 0, np.broadcast_to(np.float32(0), shape))  # the reader allocates
    peak = proc_status_kb("VmHWM")
    print(json.dumps({"base_kb": base, "peak_kb": peak, "reset": reset, "out_bytes": res.nbytes}))


def proc_status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def measure_memory(reader: str, path: Path, idx: np.ndarray, threads: int) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--probe-reader",
        reader,
        "--probe-store",
        str(path),
        "--probe-dates",
        ",".join(str(int(i)) for i in idx),
        "--threads",
        str(threads),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1:]}
    data = json.loads(res.stdout.strip().splitlines()[-1])
    return {
        "peak_mb": (data["peak_kb"] - data["base_kb"]) / 1024,
        "out_mb": data["out_bytes"] / MB,
        "hwm_reset": data["reset"],
    }


# ------------------------------------------------------------------ one store
class Result(list):  # list of row dicts
    def add(self, **row: Any) -> None:
        self.append(row)


def bench_store(
    enc: str, path: Path, size: StoreSize, names: list[str], args: argparse.Namespace, res: Result
) -> dict[str, Any]:
    t = args.threads
    w = Workloads(size, args.seed, args.batches)
    out = Outputs(size, w)
    readers: dict[str, Reader] = {}
    for name in names:
        if name not in FLOORS:
            readers[name] = open_reader(name, path, threads=t)
    ref = readers.get("fastchunk") or open_reader("fastchunk", path, threads=t)
    floors = {n: Floor(path, enc, size, t, source=FLOORS[n]) for n in names if n in FLOORS}

    for r in readers.values():
        if r is not ref:
            check_reader(r, ref, w, out)
    for floor in floors.values():
        check_floor(floor, ref, w, out)
    print(f"  correctness: {', '.join(names)} agree with fastchunk", flush=True)

    cb = size.chunk_bytes
    q = w.quarter
    grid_bytes = GATHER_DATES * size.variables * q * 4
    plan: list[tuple[str, int, dict[str, Callable[[], Any]]]] = []
    plan.append(
        (
            "gather",
            len(w.gather) * GATHER_DATES * cb,
            {
                n: run_batches(lambda b, r=r: r.take(b, 0, out.gather), w.gather)
                for n, r in readers.items()
            },
        )
    )
    plan.append(
        (
            "windows",
            len(w.windows) * WINDOW_SAMPLES * WINDOW_LENGTH * cb,
            {
                n: run_batches(lambda b, r=r: r.take(b, 0, out.windows), w.windows)
                for n, r in readers.items()
            },
        )
    )
    plan.append(
        (
            "grid",
            len(w.grid) * grid_bytes,
            {
                n: run_batches(lambda b, r=r: grid(r, b, q, out.grid), w.grid)
                for n, r in readers.items()
            },
        )
    )
    plan.append(
        (
            "grid-whole",
            len(w.grid) * GATHER_DATES * cb,
            {
                n: run_batches(lambda b, r=r: r.take(b, 0, out.gather), w.grid)
                for n, r in readers.items()
            },
        )
    )
    if "full" in args.workloads:
        fb = out.full_buffer(size)
        plan.append(
            ("full", size.nbytes, {n: (lambda r=r: r.full(fb)) for n, r in readers.items()})
        )
    floor_fns: dict[str, dict[str, Callable[[], tuple[float, float]]]] = {
        name: {
            "gather": lambda f=f: f.take(w.gather),
            "windows": lambda f=f: f.take(w.windows),
            "grid": lambda f=f: f.grid(w.grid, q),
            "grid-whole": lambda f=f: f.take(w.grid),
            "full": lambda f=f: f.full(),
        }
        for name, f in floors.items()
    }

    for workload, nbytes, fns in plan:
        if workload.split("-")[0] not in args.workloads:
            continue
        best: dict[str, float] = {}
        best_cpu: dict[str, float] = {}
        for rep in range(args.repeats):  # readers interleaved, so noise hits all alike
            for name in names:
                if name in FLOORS:
                    sec, cpu = floor_fns[name][workload]()
                else:
                    sec, cpu, result = timed(fns[name])
                    if workload == "full" and rep == 0 and name != "fastchunk":
                        check_full(name, result, out.full_buffer(size))
                        del result
                best[name] = min(best.get(name, float("inf")), sec)
                best_cpu[name] = min(best_cpu.get(name, float("inf")), cpu)
        for name, sec in best.items():
            res.add(
                store=enc,
                workload=workload,
                reader=name,
                seconds=sec,
                cpu_seconds=best_cpu[name],
                bytes=nbytes,
                gbps=nbytes / sec / 1e9,
                gb_per_cpu_s=nbytes / max(best_cpu[name], 1e-9) / 1e9,
            )
        print(
            f"  {workload}: "
            + ", ".join(f"{n} {nbytes / s / 1e9:.2f} GB/s" for n, s in best.items()),
            flush=True,
        )

    if "latency" in args.workloads:
        for name in names:
            if name in FLOORS:
                us = floors[name].latency_us(w.elements)
            else:
                us = median_call_us(readers[name], w.elements)
            res.add(store=enc, workload="latency", reader=name, microseconds=us)
        print(
            "  latency: "
            + ", ".join(
                f"{row['reader']} {row['microseconds']:.1f} us"
                for row in res
                if row["store"] == enc and row["workload"] == "latency"
            ),
            flush=True,
        )

    if "kept" in args.workloads:
        kept_readers = [
            n for n in KEPT_READERS if n not in ("zarr-python", "tensorstore") or n in names
        ]
        best = run_kept(
            path, size.dates, t, args.kept_reads, args.kept_repeats, args.seed, kept_readers
        )
        freed = best.get("fastchunk-freed", {}).get("reads_per_s")
        for name, got in best.items():
            if "wall" not in got:
                print(f"  kept: {name} failed: {got.get('error')}", flush=True)
                continue
            res.add(
                store=enc,
                workload="kept",
                reader=name,
                seconds=got["wall"],
                cpu_seconds=got["user"] + got["sys"],
                bytes=got["bytes"],
                gbps=got["gbps"],
                gb_per_cpu_s=got["bytes"] / max(got["user"] + got["sys"], 1e-9) / 1e9,
                reads_per_s=got["reads_per_s"],
                minflt=got["minflt"],
                thp_fault_alloc=got["thp_fault_alloc"],
                note=f"{got['reads_per_s']:,.0f}/s, x freed "
                + (f"{got['reads_per_s'] / freed:.2f}" if freed else "?"),
            )
        print(
            "  kept: "
            + ", ".join(
                f"{n} {g['reads_per_s']:,.0f} reads/s" for n, g in best.items() if "wall" in g
            ),
            flush=True,
        )

    extra: dict[str, Any] = {}
    if args.cache_epoch and "fastchunk" in readers:
        extra["cache_epoch"] = cache_epoch(readers["fastchunk"], w, out, size, args, enc, res)
    if args.memory and "fastchunk" in names:
        extra["memory"] = {}
        budget = GATHER_DATES * cb + 2 * cb * t + 64 * MB
        for name in [n for n in names if n not in FLOORS and n != "fastchunk-alloc"]:
            m = measure_memory(name, path, w.gather[0], t)
            m["budget_mb"] = budget / MB
            extra["memory"][name] = m
        print(
            "  peak memory of a gather (MB above baseline; budget "
            f"{budget / MB:.0f}): "
            + ", ".join(
                f"{n} {m.get('peak_mb', float('nan')):.0f}" for n, m in extra["memory"].items()
            ),
            flush=True,
        )
    return extra


def cache_epoch(
    r: Reader,
    w: Workloads,
    out: Outputs,
    size: StoreSize,
    args: argparse.Namespace,
    enc: str,
    res: Result,
) -> str:
    import fastchunk

    setter = getattr(fastchunk, "set_cache_size", None)
    if setter is None:
        for wl in ("gather", "windows"):
            res.add(
                store=enc,
                workload=wl,
                reader="fastchunk+cache",
                seconds=None,
                bytes=None,
                gbps=None,
                note="n/a: fastchunk.set_cache_size does not exist yet",
            )
        print("  cache epoch: n/a (fastchunk.set_cache_size does not exist yet)", flush=True)
        return "n/a"
    setter(int(size.nbytes * 1.25) + 64 * MB)
    try:
        lines = []
        for wl, batches, buf in (
            ("gather", w.gather, out.gather),
            ("windows", w.windows, out.windows),
        ):
            fn = run_batches(lambda b, buf=buf: r.take(b, 0, buf), batches)
            fn()  # first epoch fills the cache
            sec, cpu = best_of(fn, args.repeats)
            nbytes = sum(b.size for b in batches) * size.chunk_bytes
            res.add(
                store=enc,
                workload=wl,
                reader="fastchunk+cache",
                seconds=sec,
                cpu_seconds=cpu,
                bytes=nbytes,
                gbps=nbytes / sec / 1e9,
                gb_per_cpu_s=nbytes / max(cpu, 1e-9) / 1e9,
            )
            lines.append(f"{wl} {nbytes / sec / 1e9:.2f} GB/s")
        for i, j, k in w.elements:  # fills the cache with the chunks the calls touch
            r.element((i, j, 0, k))
        us = median_call_us(r, w.elements)
        res.add(store=enc, workload="latency", reader="fastchunk+cache", microseconds=us)
        lines.append(f"latency {us:.1f} us")
        print("  cache epoch (fastchunk+cache): " + ", ".join(lines), flush=True)
    finally:
        setter(0)
    return "done"


# ------------------------------------------------------------------ report
def ratios(rows: list[dict[str, Any]]) -> None:
    """Adds x_floor (reader / pread floor throughput), x_decode (reader /
    decode-only floor), their CPU-efficiency twins, and fastchunk_x
    (fastchunk's speed over the reader's; for latency, reader time over
    fastchunk's)."""
    by = {(r["store"], r["workload"], r["reader"]): r for r in rows}
    for r in rows:
        key = (r["store"], r["workload"])
        fc = by.get((*key, "fastchunk"))
        if r["workload"] == "latency":
            if fc:
                r["fastchunk_x"] = r["microseconds"] / fc["microseconds"]
            continue
        if r.get("gbps") is None:
            continue
        fl = by.get((*key, FLOOR))
        if fl and fl.get("gbps"):
            r["x_floor"] = r["gbps"] / fl["gbps"]
            r["cpu_x_floor"] = r["gb_per_cpu_s"] / fl["gb_per_cpu_s"]
        fd = by.get((*key, DECODE_FLOOR))
        if fd and fd.get("gbps"):
            r["x_decode"] = r["gbps"] / fd["gbps"]
            r["cpu_x_decode"] = r["gb_per_cpu_s"] / fd["gb_per_cpu_s"]
        if fc and fc.get("gbps"):
            r["fastchunk_x"] = fc["gbps"] / r["gbps"]
        if r["workload"] == "grid":
            whole = by.get((r["store"], "grid-whole", r["reader"]))
            if whole and whole.get("seconds"):
                r["window_speedup"] = whole["seconds"] / r["seconds"]


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"| {'store':8} | {'workload':10} | {'reader':16} | {'GB/s':>7} | {'x floor':>7} | "
        f"{'x decode':>8} | {'fastchunk x':>11} | {'GB/cpu-s':>8} | {'cpu x floor':>11} | "
        f"{'cpu x decode':>12} | {'note':26} |"
    )
    lines = [head, "|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        note = r.get("note", "")
        if r["workload"] == "latency":
            value = f"{r['microseconds']:7.1f}"
            note = note or "microseconds per call"
        elif r.get("gbps") is None:
            value = "    n/a"
        else:
            value = f"{r['gbps']:7.2f}"
        if "window_speedup" in r:
            note = note or f"whole/window time {r['window_speedup']:.2f}"
        xf = f"{r['x_floor']:7.2f}" if "x_floor" in r else " " * 7
        fx = f"{r['fastchunk_x']:11.2f}" if "fastchunk_x" in r else " " * 11
        gc_ = f"{r['gb_per_cpu_s']:8.2f}" if r.get("gb_per_cpu_s") else " " * 8
        cx = f"{r['cpu_x_floor']:11.2f}" if "cpu_x_floor" in r else " " * 11
        xd = f"{r['x_decode']:8.2f}" if "x_decode" in r else " " * 8
        cd = f"{r['cpu_x_decode']:12.2f}" if "cpu_x_decode" in r else " " * 12
        lines.append(
            f"| {r['store']:8} | {r['workload']:10} | {r['reader']:16} | {value} | {xf} | {xd} | "
            f"{fx} | {gc_} | {cx} | {cd} | {note:26} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]], extra: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met."""
    by = {(r["store"], r["workload"], r["reader"]): r for r in rows}
    out: list[dict[str, Any]] = []

    def add(what: str, value: float | None, goal: float, higher: bool = True) -> None:
        if value is None:
            return
        met = value >= goal if higher else value <= goal
        out.append({"target": what, "value": round(value, 3), "goal": goal, "met": met})

    def get(store: str, wl: str, reader: str, key: str) -> float | None:
        r = by.get((store, wl, reader))
        return None if r is None else r.get(key)

    stores = sorted({r["store"] for r in rows}, key=list(ENCODINGS).index)
    for s in stores:
        for wl in ("gather", "full"):
            add(f"{s} {wl}: fastchunk / floor >= 0.9", get(s, wl, "fastchunk", "x_floor"), 0.9)
        for wl in ("gather", "windows", "full"):  # issue 15: against decoding alone
            for reader in ("fastchunk", "fastchunk-alloc"):
                add(
                    f"{s} {wl}: {reader} / decode-floor >= 0.9",
                    get(s, wl, reader, "x_decode"),
                    0.9,
                )
                add(
                    f"{s} {wl}: {reader} / decode-floor >= 0.9 (CPU efficiency)",
                    get(s, wl, reader, "cpu_x_decode"),
                    0.9,
                )
        goal = {"zstd": 1.3, "blosc": 1.05}.get(s)
        if goal:
            add(
                f"{s} gather: fastchunk / tensorstore >= {goal}",
                get(s, "gather", "tensorstore", "fastchunk_x"),
                goal,
            )
        for wl in ("gather", "windows", "full", "grid"):
            ratio = get(s, wl, "zarr-python", "fastchunk_x")
            add(f"{s} {wl}: fastchunk / zarr-python >= 4", ratio, 4.0)
        add(
            f"{s} latency: fastchunk <= 25 us",
            get(s, "latency", "fastchunk", "microseconds"),
            25.0,
            higher=False,
        )
        add(
            f"{s} latency, decoded-chunk cache on: fastchunk <= 25 us",
            get(s, "latency", "fastchunk+cache", "microseconds"),
            25.0,
            higher=False,
        )
        if s == "blosc":
            add(
                f"{s} grid: quarter window >= 2.5x faster than whole chunks",
                get(s, "grid", "fastchunk", "window_speedup"),
                2.5,
            )
        add(
            f"{s} kept: fastchunk / zarr-python >= 2",
            get(s, "kept", "zarr-python", "fastchunk_x"),
            2.0,
        )
        kept, freed = get(s, "kept", "fastchunk", "gbps"), get(s, "kept", "fastchunk-freed", "gbps")
        if kept and freed:
            add(f"{s} kept: fastchunk / the same reads freed >= 0.8", kept / freed, 0.8)
        mem = extra.get(s, {}).get("memory", {}).get("fastchunk")
        if mem and "peak_mb" in mem:
            add(
                f"{s} gather peak memory <= {mem['budget_mb']:.0f} MB (MB above baseline)",
                mem["peak_mb"],
                round(mem["budget_mb"], 1),
                higher=False,
            )
    return out


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [
        w
        for w in ("gather", "windows", "full", "grid", "grid-whole", "latency", "kept")
        if any(r["workload"] == w for r in rows)
    ]
    stores = [s for s in ENCODINGS if any(r["store"] == s for r in rows)]
    readers = [
        n
        for n in dict.fromkeys([*READERS, "fastchunk+cache", *FLOORS, *KEPT_READERS])
        if any(r["reader"] == n for r in rows)
    ]
    fig, axes = plt.subplots(1, len(workloads), figsize=(4.2 * len(workloads), 4.5), squeeze=False)
    colors = plt.get_cmap("tab10")
    width = 0.8 / max(1, len(readers))
    for ax, wl in zip(axes[0], workloads, strict=True):
        key = "microseconds" if wl == "latency" else "gbps"
        for k, name in enumerate(readers):
            vals = []
            for s in stores:
                r = next(
                    (x for x in rows if (x["store"], x["workload"], x["reader"]) == (s, wl, name)),
                    None,
                )
                vals.append(np.nan if r is None or r.get(key) is None else r[key])
            xs = np.arange(len(stores)) + (k - (len(readers) - 1) / 2) * width
            ax.bar(xs, vals, width, label=name, color=colors(k))
        ax.set_xticks(np.arange(len(stores)), stores)
        ax.set_title(wl)
        ax.set_ylabel("microseconds per call (log)" if wl == "latency" else "GB/s decoded")
        if wl == "latency":
            ax.set_yscale("log")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------ main
def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_args(p)
    p.add_argument(
        "--threads",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="threads for every reader and the floor (default: usable cores)",
    )
    p.add_argument("--encodings", default=",".join(ENCODINGS), help="stores: zstd,blosc,sharded")
    p.add_argument(
        "--readers",
        default=",".join([*READERS, *FLOORS]),
        help=f"comma-separated subset of {','.join([*READERS, *FLOORS])}",
    )
    p.add_argument("--workloads", default="gather,windows,full,grid,latency,kept")
    p.add_argument("--kept-reads", type=int, default=150, help="reads of the kept workload")
    p.add_argument(
        "--kept-repeats", type=int, default=3, help="kept workload: best of this many processes"
    )
    p.add_argument("--repeats", type=int, default=5, help="best of this many runs")
    p.add_argument(
        "--batches",
        type=int,
        default=16,
        help="batches per workload (windows, grid: half); at most an epoch",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--cache-epoch",
        action="store_true",
        help="also time a second epoch with fastchunk's decoded-chunk cache on",
    )
    p.add_argument(
        "--no-memory", dest="memory", action="store_false", help="skip the peak-memory probes"
    )
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "latest.json")
    p.add_argument("--png", type=Path, default=RESULTS_DIR / "latest.png")
    p.add_argument("--probe-reader", help=argparse.SUPPRESS)
    p.add_argument("--probe-store", help=argparse.SUPPRESS)
    p.add_argument("--probe-dates", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe_reader:
        memory_probe(args)
        return
    args.workloads = args.workloads.split(",")
    names = ["zarr-python" if n == "zarr" else n for n in args.readers.split(",")]
    unknown = set(names) - {*READERS, *FLOORS}
    if unknown:
        p.error(f"unknown readers {sorted(unknown)}")
    # fastchunk first: the reference for checks and ratios
    names = ["fastchunk", *[n for n in names if n != "fastchunk"]]
    size = parse_size(args)

    configure_zarr(args.threads)  # before zarr's event loop starts
    import fastchunk

    print(
        f"fastchunk {fastchunk.__version__}, threads {args.threads}, store {size.tag()} "
        f"({size.nbytes / 1e9:.2f} GB decoded), best of {args.repeats}",
        flush=True,
    )
    rows = Result()
    extra: dict[str, Any] = {}
    stores: dict[str, Any] = {}
    t_start = time.perf_counter()
    for enc in args.encodings.split(","):
        path = write_store(enc, size)
        stored = stored_bytes(path)
        warm_page_cache(path)
        stores[enc] = {
            "path": str(path),
            "encoding": ENCODINGS[enc],
            "stored_bytes": stored,
            "ratio": size.nbytes / stored,
        }
        print(
            f"{enc}: {ENCODINGS[enc]}; {stored / 1e9:.2f} GB stored, ratio "
            f"{size.nbytes / stored:.2f}",
            flush=True,
        )
        extra[enc] = bench_store(enc, path, size, names, args, rows)
    ratios(rows)
    tg = targets(rows, extra)
    print()
    print(table(rows))
    print()
    for t in tg:
        print(f"  [{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['value']}")
    for enc, e in extra.items():
        for name, m in e.get("memory", {}).items():
            if "peak_mb" in m:
                print(
                    f"  memory {enc} {name}: peak {m['peak_mb']:.0f} MB above baseline for a "
                    f"{m['out_mb']:.0f} MB gather (budget {m['budget_mb']:.0f} MB)"
                )
    info = {
        "command": " ".join(["python", "benchmarks/bench_read.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "versions": versions(),
        "threads": args.threads,
        "size": {
            "dates": size.dates,
            "variables": size.variables,
            "points": size.points,
            "decoded_bytes": size.nbytes,
            "chunk_bytes": size.chunk_bytes,
        },
        "repeats": args.repeats,
        "stores": stores,
        "rows": rows,
        "extra": extra,
        "targets": tg,
        "wall_seconds": time.perf_counter() - t_start,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1))
    plot(rows, args.png, f"{size.tag()} float32, {args.threads} threads, best of {args.repeats}")
    print(f"\nwrote {args.json} and {args.png}")


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("fastchunk", "zarr", "zarrs", "tensorstore", "numcodecs", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "?"
    return out


if __name__ == "__main__":
    main()
