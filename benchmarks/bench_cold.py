"""Cold reads: the same shuffled gathers as bench_read.py with the page cache
emptied of the store before each run (posix_fadvise DONTNEED on every file of
the store, after fastchunk's mappings are dropped: mapped pages cannot be
evicted), against the same gathers with the page cache warm.

    python benchmarks/bench_cold.py                  # 512 x 16 x 40320 stores, best of 3
    python benchmarks/bench_cold.py --quick

Readers: fastchunk with its read-ahead (the chunks ahead of the decoding
threads are asked for with posix_fadvise WILLNEED, about 64 MB in flight),
fastchunk without it, and tensorstore. `x warm` = cold throughput over the
same reader's warm one. Results: benchmarks/results/cold.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_read import GATHER_DATES, Workloads, timed  # noqa: E402
from common import RESULTS_DIR  # noqa: E402
from disk_read import evict  # noqa: E402
from make_stores import add_size_args, parse_size, write_store  # noqa: E402

from fastchunk.tools.readers import configure_zarr, open_reader  # noqa: E402


def drop_cache(path: Path) -> None:
    """Evicts every file of the store from the page cache."""
    from fastchunk import _core

    _core.clear_maps()  # mapped pages cannot be evicted
    evict([p for p in path.rglob("*") if p.is_file()])


def cached_fraction(path: Path) -> float:
    """The share of the store's bytes in the page cache (mincore through fincore)."""
    import subprocess

    files = [str(p) for p in path.rglob("*") if p.is_file()]
    res = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "-o", "RES,SIZE",
                          *files], capture_output=True, text=True)  # fmt: skip
    if res.returncode != 0:
        return float("nan")
    res_total = size_total = 0
    for line in res.stdout.split("\n"):
        if line.strip():
            r, s = line.split()
            res_total += int(r)
            size_total += int(s)
    return res_total / max(1, size_total)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_args(p)
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--encodings", default="zstd,blosc,sharded")
    p.add_argument("--readers", default="fastchunk,fastchunk-no-read-ahead,tensorstore")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batches", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=RESULTS_DIR / "cold.json")
    args = p.parse_args()
    size = parse_size(args)
    configure_zarr(args.threads)
    from fastchunk import _core

    rows: list[dict[str, Any]] = []
    print(f"threads {args.threads}, store {size.tag()}, best of {args.repeats}, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
    for enc in args.encodings.split(","):
        path = write_store(enc, size)
        w = Workloads(size, args.seed, args.batches)
        nbytes = len(w.gather) * GATHER_DATES * size.chunk_bytes
        out = np.empty((GATHER_DATES, *size.shape[1:]), dtype=np.float32)
        out.fill(0)
        names = args.readers.split(",")
        readers = {n: open_reader("fastchunk" if n.startswith("fastchunk") else n, path,
                                  threads=args.threads) for n in names}  # fmt: skip

        def gather(name: str, readers: dict = readers, w: Workloads = w,
                   out: np.ndarray = out) -> None:  # fmt: skip
            _core.set_read_ahead(name != "fastchunk-no-read-ahead")
            r = readers[name]
            for b in w.gather:
                r.take(b, 0, out)

        best: dict[tuple[str, str], float] = {}
        resident: list[float] = []
        for _ in range(args.repeats):
            for name in names:  # interleaved
                drop_cache(path)
                resident.append(cached_fraction(path))
                sec, _cpu, _ = timed(lambda name=name: gather(name))
                best[(name, "cold")] = min(best.get((name, "cold"), 1e9), sec)
                sec, _cpu, _ = timed(lambda name=name: gather(name))  # the same dates, now warm
                best[(name, "warm")] = min(best.get((name, "warm"), 1e9), sec)
        _core.set_read_ahead(True)
        for name in names:
            cold, warm = best[(name, "cold")], best[(name, "warm")]
            rows.append({"store": enc, "reader": name, "cold_gbps": nbytes / cold / 1e9,
                         "warm_gbps": nbytes / warm / 1e9, "x_warm": warm / cold})  # fmt: skip
        print(f"{enc}: page cache after dropping: {100 * max(resident):.1f}% of the store at most",
              flush=True)  # fmt: skip
    print("\n| store | reader | cold GB/s | warm GB/s | cold x warm |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['store']} | {r['reader']} | {r['cold_gbps']:.2f} | {r['warm_gbps']:.2f} | "
              f"{r['x_warm']:.2f} |")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()}")
    info = {"command": " ".join(["python", "benchmarks/bench_cold.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"), "threads": args.threads, "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
