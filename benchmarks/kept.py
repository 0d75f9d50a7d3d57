"""The `kept` workload of bench_read.py: single-date reads `a[i]` whose
outputs are all kept (a list of samples, a first epoch, a prefetch queue), so
that every read writes fresh memory, against the same reads whose outputs are
freed each time.

Each (reader, repeat) runs in a fresh process, as a user's first pass does:
nothing is reused from a previous run. Readers:
  fastchunk            a[i], every output kept
  fastchunk-freed      a[i], each output freed before the next read
  empty+read_into   np.empty, then fastchunk's read_orthogonal into it, kept
  zarr-python          a[i], kept
  tensorstore          a[i].read().result(), kept
  first-touch          np.empty + fill(0) of the same size, kept: what fresh
                       memory alone costs on this machine (no read at all)

Reported per reader: reads/s, GB/s of output, user and system CPU seconds,
minor page faults, and the machine-wide thp_fault_alloc rise (/proc/vmstat:
other processes add to it).

    python benchmarks/kept.py --store benchmarks/data/blosc-512x16x40320.zarr
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

KEPT_READERS = (
    "fastchunk",
    "fastchunk-freed",
    "empty+read_into",
    "zarr-python",
    "tensorstore",
    "first-touch",
)


def vmstat(key: str) -> int:
    try:
        for line in Path("/proc/vmstat").read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except OSError:
        pass
    return 0


def _reads(name: str, store: str, threads: int) -> Any:
    """A function i -> output of one date's read, for reader `name`."""
    from fastchunk.tools.readers import configure_zarr, open_reader

    if name == "first-touch":
        import fastchunk

        a = fastchunk.open_array(store)
        shape, dtype = a.shape[1:], a.dtype

        def touch(i: int) -> np.ndarray:
            out = np.empty(shape, dtype=dtype)
            out.fill(0)
            return out

        return touch, None
    if name == "zarr-python":
        configure_zarr(threads)
    r = open_reader(
        "fastchunk" if name.startswith(("fastchunk", "empty")) else name, store, threads=threads
    )
    a = r.a
    if name == "tensorstore":
        return (lambda i: a[i].read().result()), r
    if name == "empty+read_into":
        rest = [range(n) for n in a.shape[1:]]

        def read_into(i: int) -> np.ndarray:
            out = np.empty((1, *a.shape[1:]), dtype=a.dtype)
            a.read_orthogonal([np.array([i]), *rest], out)
            return out

        return read_into, r
    return (lambda i: a[i]), r


def probe(name: str, store: str, dates: list[int], threads: int) -> dict[str, Any]:
    """Subprocess mode: the reads of `dates` with reader `name`."""
    read, r = _reads(name, store, threads)
    if r is not None:
        r.element((0,) * r.ndim)  # whatever the reader builds lazily (no large output)
    kept: list[Any] = []
    freed = name == "fastchunk-freed"
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    thp0 = vmstat("thp_fault_alloc")
    t0 = time.perf_counter()
    for i in dates:
        out = read(i)
        if not freed:
            kept.append(out)
        del out
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    nbytes = sum(np.asarray(x).nbytes for x in kept) if kept else 0
    if freed:
        nbytes = np.asarray(read(dates[0])).nbytes * len(dates)
    return {
        "wall": wall,
        "user": ru1.ru_utime - ru0.ru_utime,
        "sys": ru1.ru_stime - ru0.ru_stime,
        "minflt": ru1.ru_minflt - ru0.ru_minflt,
        "majflt": ru1.ru_majflt - ru0.ru_majflt,
        "thp_fault_alloc": vmstat("thp_fault_alloc") - thp0,
        "bytes": nbytes,
    }


def run_probe(
    name: str, store: Path, dates: list[int], threads: int, env: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--probe",
        name,
        "--store",
        str(store),
        "--dates",
        ",".join(map(str, dates)),
        "--threads",
        str(threads),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_kept(
    store: Path,
    dates_total: int,
    threads: int,
    reads: int,
    repeats: int,
    seed: int,
    readers: list[str],
) -> dict[str, dict[str, Any]]:
    """Best of `repeats` (readers interleaved) for each reader: the probe of
    the run with the least wall time."""
    rng = np.random.default_rng(seed)
    dates = [int(d) for d in rng.choice(dates_total, size=min(reads, dates_total), replace=False)]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeats):
        for name in readers:
            got = run_probe(name, store, dates, threads)
            if "error" in got:
                best.setdefault(name, got)
                continue
            if "wall" not in best.get(name, {}) or got["wall"] < best[name]["wall"]:
                best[name] = got
    for got in best.values():
        if "wall" in got:
            got["reads_per_s"] = len(dates) / got["wall"]
            got["gbps"] = got["bytes"] / got["wall"] / 1e9
            got["reads"] = len(dates)
    return best


def format_kept(store: str, best: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| store | reader | reads/s | GB/s | x freed | fastchunk x | user s | sys s | "
        "minor faults | thp_fault_alloc |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    freed = best.get("fastchunk-freed", {}).get("reads_per_s")
    fc = best.get("fastchunk", {}).get("reads_per_s")
    for name, got in best.items():
        if "error" in got:
            lines.append(f"| {store} | {name} | error: {got['error']} |||||||")
            continue
        rps = got["reads_per_s"]
        xf = f"{rps / freed:.2f}" if freed else ""
        fx = f"{fc / rps:.2f}" if fc else ""
        lines.append(
            f"| {store} | {name} | {rps:,.0f} | {got['gbps']:.2f} | {xf} | {fx} | "
            f"{got['user']:.2f} | {got['sys']:.2f} | {got['minflt']:,} | "
            f"{got['thp_fault_alloc']} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--store", required=True)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--reads", type=int, default=150)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--readers", default=",".join(KEPT_READERS))
    p.add_argument("--probe", help=argparse.SUPPRESS)
    p.add_argument("--dates", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        dates = [int(x) for x in args.dates.split(",")]
        print(json.dumps(probe(args.probe, args.store, dates, args.threads)))
        return
    import fastchunk

    n = fastchunk.open_array(args.store).shape[0]
    readers = args.readers.split(",")
    best = run_kept(Path(args.store), n, args.threads, args.reads, args.repeats, args.seed, readers)
    print(f"uptime: {os.getloadavg()}")
    print(format_kept(Path(args.store).name, best))


if __name__ == "__main__":
    main()
