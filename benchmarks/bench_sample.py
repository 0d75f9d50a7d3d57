"""Single-sample reads of large chunks: one date `a[i]` at a time, as a
training loop reading one sample per DataLoader call does (anemoi's
datasets), on chunks of one date of 27 variables x 65160 points (7.0 MB,
an anemoi N320-like date). fastchunk against zarr 2.18 + numcodecs (what
anemoi reads with, in .venv-anemoi, a subprocess), zarr-python 3 and
tensorstore, with the same threads, and the decode-only floor (the chunk's
stored bytes already in memory, decoded by the C library on one thread).

    python benchmarks/bench_sample.py                 # 64 dates per store, best of 5
    python benchmarks/bench_sample.py --quick         # smoke run

Per store and reader: the median time of a call over all calls of the best
repeat (readers interleaved within each repeat), samples/s, CPU per call, and
fastchunk's overhead beyond decoding: fastchunk's CPU per call over the
floor's decode CPU per chunk, minus 1. zarr 2 reads zarr v2 stores only
(the blosc store). Results: benchmarks/results/sample.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, StoreSize, store_path  # noqa: E402
from floor import Floor  # noqa: E402
from make_stores import write_store  # noqa: E402

HERE = Path(__file__).resolve().parent
ZARR2_PYTHON = HERE.parent / ".venv-anemoi" / "bin" / "python"
VARIABLES, POINTS = 27, 65160


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


class InProcess:
    """A reader run in this process: read(i) returns date i."""

    def __init__(self, name: str, read: Any) -> None:
        self.name, self.read = name, read

    def run(self, dates: list[int]) -> tuple[list[float], float, float]:
        gc.collect()
        seconds, total = [], 0.0
        c0 = cpu_seconds()
        for i in dates:
            t0 = time.perf_counter()
            x = self.read(i)
            seconds.append(time.perf_counter() - t0)
            total += float(np.asarray(x, dtype=np.float64).ravel()[::997].sum())
            del x
        return seconds, cpu_seconds() - c0, total


class Zarr2:
    """zarr 2.18 + numcodecs in .venv-anemoi, answering jobs over a pipe."""

    name = "zarr2+numcodecs"

    def __init__(self, path: Path) -> None:
        side = HERE / "sample_zarr2_side.py"
        self.proc = subprocess.Popen(
            [str(ZARR2_PYTHON), str(side), str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdout is not None
        hello = json.loads(self.proc.stdout.readline())
        self.version = hello.get("zarr", "?")

    def run(self, dates: list[int]) -> tuple[list[float], float, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"dates": dates}) + "\n")
        self.proc.stdin.flush()
        out = json.loads(self.proc.stdout.readline())
        return out["seconds"], out["cpu"], out["sum"]

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def readers_for(enc: str, path: Path, threads: int, names: list[str]) -> list[Any]:
    out: list[Any] = []
    if "fastchunk" in names:
        import fastchunk

        fastchunk.set_num_threads(threads)
        a = fastchunk.open(str(path))
        out.append(InProcess("fastchunk", lambda i, a=a: a[i]))
    if "zarr2" in names and enc == "blosc":
        if ZARR2_PYTHON.exists():
            out.append(Zarr2(path))
        else:
            print("  zarr2: .venv-anemoi missing (bash scripts/setup.sh makes it)", flush=True)
    if "zarr" in names:
        import zarr

        z = zarr.open_array(str(path), mode="r")
        out.append(InProcess("zarr-python", lambda i, z=z: z[i]))
    if "tensorstore" in names:
        import tensorstore as ts

        driver = "zarr3" if (path / "zarr.json").exists() else "zarr"
        context = ts.Context(
            {"data_copy_concurrency": {"limit": threads}, "file_io_concurrency": {"limit": threads}}
        )
        t = ts.open(
            {"driver": driver, "kvstore": {"driver": "file", "path": str(path)}},
            read=True, context=context,
        ).result()  # fmt: skip
        out.append(InProcess("tensorstore", lambda i, t=t: t[i].read().result()))
    return out


def bench_store(enc: str, size: StoreSize, args: argparse.Namespace) -> list[dict[str, Any]]:
    path = write_store(enc, size)
    for p in sorted(path.rglob("*")):  # page cache warm
        if p.is_file():
            p.read_bytes()
    rng = np.random.default_rng(args.seed)
    dates = [int(i) for i in rng.integers(0, size.dates, size=args.calls)]
    readers = readers_for(enc, path, args.threads, args.readers.split(","))
    # Every reader reads the same values.
    sums = {r.name: r.run(dates[:4])[2] for r in readers}
    ref = sums.get("fastchunk")
    for name, s in sums.items():
        if ref is not None and not np.isclose(s, ref, rtol=1e-6, equal_nan=True):
            raise AssertionError(f"{name} reads other values than fastchunk ({s} != {ref})")
    best: dict[str, tuple[float, list[float], float]] = {}
    for _ in range(args.repeats):
        for r in readers:
            seconds, cpu, _ = r.run(dates)
            total = sum(seconds)
            if r.name not in best or total < best[r.name][0]:
                best[r.name] = (total, seconds, cpu)
    for r in readers:
        if isinstance(r, Zarr2):
            r.close()
    floor = Floor(path, enc, size, 1, source="memory")
    floor_us = floor.latency_us([(i, 0, 0) for i in dates], whole=True)
    rows = []
    for name, (_total, seconds, cpu) in best.items():
        med = statistics.median(seconds)
        rows.append(
            {
                "store": enc,
                "reader": name,
                "median_ms": med * 1e3,
                "samples_per_s": 1.0 / med,
                "cpu_ms_per_call": cpu / len(seconds) * 1e3,
            }
        )
    rows.append({"store": enc, "reader": "decode-floor (1 thread)", "median_ms": floor_us / 1e3,
                 "samples_per_s": 1e6 / floor_us, "cpu_ms_per_call": floor_us / 1e3})  # fmt: skip
    fc = next((r for r in rows if r["reader"] == "fastchunk"), None)
    for r in rows:
        if fc:
            r["fastchunk_x"] = r["median_ms"] / fc["median_ms"]
    if fc:
        fc["overhead_vs_decode_cpu"] = fc["cpu_ms_per_call"] / (floor_us / 1e3) - 1
        fc["x_floor_wall"] = (floor_us / 1e3) / fc["median_ms"]
    return rows


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dates", type=int, default=64)
    p.add_argument("--calls", type=int, default=64, help="random single-date reads per repeat")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--encodings", default="blosc,zstd,sharded")
    p.add_argument("--readers", default="fastchunk,zarr2,zarr,tensorstore")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="16 dates, 16 calls, 2 repeats")
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "sample.json")
    args = p.parse_args()
    if args.quick:
        args.dates, args.calls, args.repeats = 16, 16, 2
    import zarr

    zarr.config.set({"threading.max_workers": args.threads})
    size = StoreSize(args.dates, VARIABLES, POINTS)
    load = os.getloadavg()[0]
    print(f"single dates of {size.chunk_bytes / 1e6:.1f} MB, {args.calls} calls, best of "
          f"{args.repeats}, threads {args.threads}, load {load:.1f}", flush=True)  # fmt: skip
    rows: list[dict[str, Any]] = []
    for enc in args.encodings.split(","):
        print(f"{enc}: {store_path(enc, size).name}", flush=True)
        rows += bench_store(enc, size, args)
    print("\n| store | reader | ms per call (median) | samples/s | fastchunk x | CPU ms per call |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        fx = f"{r['fastchunk_x']:.2f}" if "fastchunk_x" in r else ""
        print(f"| {r['store']} | {r['reader']} | {r['median_ms']:.2f} | {r['samples_per_s']:.0f} | "
              f"{fx} | {r['cpu_ms_per_call']:.2f} |")  # fmt: skip
    targets = []
    for enc in args.encodings.split(","):
        mine = [r for r in rows if r["store"] == enc]
        fc = next((r for r in mine if r["reader"] == "fastchunk"), None)
        others = [r for r in mine if r["reader"] not in ("fastchunk",)
                  and not r["reader"].startswith("decode-floor")]  # fmt: skip
        if fc and others:
            best = min(others, key=lambda r: r["median_ms"])
            ratio = best["median_ms"] / fc["median_ms"]
            targets.append({"target": f"{enc}: fastchunk >= 1.5x the best other ({best['reader']})",
                            "value": round(ratio, 3), "met": ratio >= 1.5})  # fmt: skip
        if fc:
            ov = fc["overhead_vs_decode_cpu"]
            targets.append({"target": f"{enc}: CPU per call beyond decoding < 5% of the decode",
                            "value": round(ov, 3), "met": ov < 0.05})  # fmt: skip
    print()
    for t in targets:
        print(f"  [{'met' if t['met'] else 'NOT met'}] {t['target']}: {t['value']}")
    print(f"load average at the end: {os.getloadavg()}")
    info = {"command": " ".join(["python", "benchmarks/bench_sample.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "threads": args.threads,
            "rows": rows, "targets": targets, "load": os.getloadavg()}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
