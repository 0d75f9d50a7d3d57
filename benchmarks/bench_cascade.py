"""The caching cascade across a node: the shared decoded-chunk cache and the
disk cache of remote objects, each against what it replaces, in one run.

    python benchmarks/bench_cascade.py                  # 128 dates, about 5 minutes on 2 cores
    python benchmarks/bench_cascade.py --dates 32 --s3-dates 16 --epochs 3   # smoke run

1. split: a model split over 4 ranks. 4 processes read their quarter of the
   grid for the same shuffled batches of dates (zstd store, blosc store), each
   with --threads native threads. Aggregate useful GB/s (bytes each process
   asked for, summed, over the wall time of the slowest) without a cache, with
   the shared cache from empty (every chunk decoded once for the node), and
   with it warm. Target: shared (from empty) >= 3x no cache.
2. loader: torch DataLoader, 4 persistent workers, over a data set that fits
   the budget, --epochs epochs; the last one is timed. Process-local cache in
   each worker against one shared cache. Memory of the node: resident
   anonymous memory of every worker plus the shared cache in /dev/shm.
   Target: one copy of the data for the node, and the shared cache's epoch
   within 0.8x of the process-local cache's.
3. s3: SeaweedFS behind a proxy adding --latency-ms to every request. Epoch 1
   through the disk cache (remote), epoch 2 (local disk), a restarted job
   ("once": a HEAD per object; "never": nothing remote), against the local
   read of the same store. Target: epoch 2 >= 0.8x local.

Stores are the benchmark stores (make_stores.py: float32 (dates, 16, 1,
40320), one chunk per date, 2.58 MB decoded), written when missing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os

# numpy's OpenBLAS threads spin in every rank and worker process, and their
# CPU time would count against whichever reader runs: one thread each.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from common import DEFAULT_POINTS, DEFAULT_VARIABLES, RESULTS_DIR, StoreSize  # noqa: E402
from make_stores import write_store  # noqa: E402

import fastchunk  # noqa: E402
from fastchunk import cache as shared  # noqa: E402

BATCH = 8
RANKS = 4


def batches_of(n: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i : i + BATCH] for i in range(0, n - n % BATCH, BATCH)]


def gb(n: float) -> str:
    return f"{n / 1e9:.2f}"


# ---------------------------------------------------------------- 1. split


def rank_worker(
    store: str, part: int, threads: int, cache: tuple[str, int] | None, barrier: Any, out: Any
) -> None:
    fastchunk.set_num_threads(threads)
    if cache is not None:
        fastchunk.set_cache_size(cache[1], shared=cache[0])
    a = fastchunk.open_array(store)
    step = a.shape[-1] // RANKS
    cols = slice(part * step, (part + 1) * step)
    batches = batches_of(a.shape[0], 1)
    a[batches[0][:1], ..., cols]  # opened and warm before the clock starts
    barrier.wait()
    t0, c0 = time.time(), time.process_time()
    nbytes = 0
    for b in batches:
        nbytes += a[b, ..., cols].nbytes
    out.put((t0, time.time(), nbytes, time.process_time() - c0))


def run_ranks(store: str, threads: int, cache: tuple[str, int] | None) -> tuple[float, float]:
    """(useful bytes per second of wall time, per CPU-second), all ranks together."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(RANKS), ctx.Queue()
    procs = [
        ctx.Process(target=rank_worker, args=(store, r, threads, cache, barrier, out))
        for r in range(RANKS)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"rank exited with {p.exitcode}")
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    nbytes = sum(r[2] for r in results)
    return nbytes / (end - start), nbytes / sum(r[3] for r in results)


def bench_split(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    size = StoreSize(args.dates, DEFAULT_VARIABLES, DEFAULT_POINTS)
    print(f"\n## split: {RANKS} ranks, a quarter of the grid each, same shuffled dates")
    print(f"{size.dates} dates x {size.chunk_bytes / 1e6:.2f} MB, threads per rank {args.threads}")
    print(
        "| store | reader | GB/s (useful, all ranks) | x no cache | GB per CPU-s | x no cache "
        "| shared MB | hits | inserts | waits |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for enc in ("zstd", "blosc"):
        store = str(write_store(enc, size))
        name = f"bench-split-{os.getpid()}"
        budget = int(size.nbytes * 1.1) + (64 << 20)
        try:
            best: dict[str, tuple[float, float]] = {}
            stats: dict[str, dict[str, Any]] = {}
            for _ in range(args.repeats):
                for mode in ("no cache", "shared, from empty", "shared, warm"):
                    if mode == "shared, from empty":
                        shared.remove_shared_cache(name)
                    cache = None if mode == "no cache" else (name, budget)
                    before = shared.shared_cache_info(name) or {}
                    wall, cpu = run_ranks(store, args.threads, cache)
                    old = best.get(mode, (0.0, 0.0))
                    best[mode] = (max(old[0], wall), max(old[1], cpu))
                    if cache is not None:
                        after = shared.shared_cache_info(name) or {}
                        stats[mode] = {
                            k: after[k] - before.get(k, 0) for k in ("hits", "inserts", "waits")
                        }
                        stats[mode]["used"] = after["used"]
            base = best["no cache"]
            for mode, (wall, cpu) in best.items():
                st = stats.get(mode, {})
                row = {
                    "part": "split", "store": enc, "reader": mode, "gbps": wall,
                    "x_no_cache": wall / base[0], "gb_per_cpu_s": cpu,
                    "cpu_x_no_cache": cpu / base[1], **st,
                }  # fmt: skip
                rows.append(row)
                print(
                    f"| {enc} | {mode} | {gb(wall)} | {row['x_no_cache']:.2f} | {gb(cpu)} | "
                    f"{row['cpu_x_no_cache']:.2f} | {st.get('used', 0) / 1e6:.0f} | "
                    f"{st.get('hits', '-')} | {st.get('inserts', '-')} | {st.get('waits', '-')} |",
                    flush=True,
                )
        finally:
            shared.remove_shared_cache(name)


# ---------------------------------------------------------------- 2. loader


def _rss(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                out[key] = int(value.split()[0]) * 1024
    return out


class _Init:
    """worker_init_fn: turns on the worker's process cache, and writes the
    bytes that cache holds to PID_DIR/<pid> every 0.1 s."""

    def __init__(self, pid_dir: str, local_budget: int) -> None:
        self.pid_dir, self.local_budget = pid_dir, local_budget

    def __call__(self, worker_id: int) -> None:
        import threading

        fastchunk.set_num_threads(1)
        if self.local_budget:
            fastchunk.set_cache_size(self.local_budget)
        path = Path(self.pid_dir, str(os.getpid()))

        def report() -> None:
            while True:
                tmp = path.with_suffix(".tmp")
                tmp.write_text(str(fastchunk.get_cache_info()["used"]))
                tmp.replace(path)
                time.sleep(0.1)

        threading.Thread(target=report, daemon=True).start()


def run_loader(store: str, mode: str, epochs: int, budget: int, workers: int) -> dict[str, Any]:
    """GB/s of each epoch, and the node's memory after the last one."""
    import torch

    from fastchunk.torch import ArrayDataset

    name = f"bench-loader-{os.getpid()}"
    pid_dir = tempfile.mkdtemp(prefix="fastchunk-bench-")
    try:
        if mode == "shared":
            fastchunk.set_cache_size(budget, shared=name)  # forked workers inherit it
        loader = torch.utils.data.DataLoader(
            ArrayDataset(store),
            batch_size=BATCH,
            shuffle=True,
            num_workers=workers,
            persistent_workers=True,
            prefetch_factor=2,
            multiprocessing_context="fork",
            worker_init_fn=_Init(pid_dir, budget if mode == "process cache" else 0),
            generator=torch.Generator().manual_seed(0),
        )
        speeds = []
        for _ in range(epochs):
            t0 = time.perf_counter()
            nbytes = 0
            for batch in loader:
                nbytes += batch.numpy().nbytes
            speeds.append(nbytes / (time.perf_counter() - t0))
        time.sleep(0.3)  # the workers' last reports
        pids = [int(p) for p in os.listdir(pid_dir) if p.isdigit()]
        anon = sum(_rss(p)["RssAnon"] for p in pids)
        local = sum(int(Path(pid_dir, str(p)).read_text()) for p in pids)
        del loader
        info = shared.shared_cache_info(name) if mode == "shared" else None
        shm = info["used"] if info else 0
        return {
            "gbps": speeds,
            "workers_anon": anon,
            "process_caches": local,
            "shm": shm,
            "hits": info["hits"] if info else None,
            "misses": info["misses"] if info else None,
        }
    finally:
        if mode == "shared":
            fastchunk.set_cache_size(0, shared=name)
            shared.remove_shared_cache(name)
        shutil.rmtree(pid_dir, ignore_errors=True)


def bench_loader(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    size = StoreSize(args.dates, DEFAULT_VARIABLES, DEFAULT_POINTS)
    store = str(write_store("zstd", size))
    budget = int(size.nbytes * 1.1) + (64 << 20)
    last = args.epochs
    print(
        f"\n## loader: DataLoader, {args.workers} workers (fork, persistent), batches of "
        f"{BATCH}, {size.dates} dates ({size.nbytes / 1e9:.2f} GB decoded), {last} epochs; "
        f"cache budgets {budget / 1e9:.2f} GB (each worker's, or the node's)"
    )
    print(
        f"| reader | epoch 2 GB/s | x process cache | epoch {last} GB/s | x process cache | "
        "workers' anon MB | cached MB (process caches + shared) | copies of the data | "
        "shared hit rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results: dict[str, dict[str, Any]] = {}
    for _ in range(args.repeats):
        for mode in ("no cache", "process cache", "shared"):
            r = run_loader(store, mode, args.epochs, budget, args.workers)
            if mode in results:  # best of the repeats, epoch by epoch
                r["gbps"] = [
                    max(a, b) for a, b in zip(r["gbps"], results[mode]["gbps"], strict=True)
                ]
            results[mode] = r
    ref = results["process cache"]["gbps"]
    for mode, r in results.items():
        cached = r["process_caches"] + r["shm"]
        rate = "-"
        if r["hits"] is not None and r["hits"] + r["misses"]:
            rate = f"{100 * r['hits'] / (r['hits'] + r['misses']):.0f}%"
        two, final = r["gbps"][min(1, last - 1)], r["gbps"][-1]
        rows.append(
            {"part": "loader", "reader": mode, **r, "cached": cached,
             "copies": cached / size.nbytes}
        )  # fmt: skip
        print(
            f"| {mode} | {gb(two)} | {two / ref[min(1, last - 1)]:.2f} | {gb(final)} | "
            f"{final / ref[-1]:.2f} | {r['workers_anon'] / 1e6:.0f} | {cached / 1e6:.0f} | "
            f"{cached / size.nbytes:.2f} | {rate} |",
            flush=True,
        )


# ---------------------------------------------------------------- 3. s3


def bench_s3(args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    from tests import s3_server

    size = StoreSize(args.s3_dates, DEFAULT_VARIABLES, DEFAULT_POINTS)
    local_path = write_store("blosc", size)
    print(
        f"\n## s3: {args.latency_ms:.0f} ms per request, {size.dates} dates "
        f"({size.nbytes / 1e9:.2f} GB decoded), batches of {BATCH}, blosc store"
    )
    print(
        "| reader | GB/s | x local | GB per CPU-s | x local | GET | HEAD | disk MB | "
        "disk hit rate |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        server = s3_server.start_server(os.path.join(tmp, "s3"))
        proxy = None
        try:
            server.upload_dir(local_path, "bench.zarr")
            proxy = s3_server.ProxyProcess(
                int(server.endpoint.rsplit(":", 1)[1]), args.latency_ms / 1000
            )
            url = f"s3://{server.bucket}/bench.zarr"
            batches = batches_of(size.dates, 2)
            local = fastchunk.open_array(local_path)
            out = np.empty((BATCH, *local.shape[1:]), "f4")

            def epoch(a: Any) -> tuple[float, float]:
                """(GB/s, GB per CPU-second) of one pass over the batches."""
                t0, c0 = time.perf_counter(), time.process_time()
                for b in batches:
                    a.take(b, out=out)
                n = len(batches) * out.nbytes
                return n / (time.perf_counter() - t0), n / (time.process_time() - c0)

            cache_dir = os.path.join(tmp, "disk")

            def remote(check: str) -> Any:
                opts = server.storage_options(
                    endpoint_url=proxy.endpoint, cache_dir=cache_dir, cache_size="20GB",
                    cache_check=check,
                )  # fmt: skip
                return fastchunk.open_array(url, storage_options=opts)

            def counters(a: Any) -> dict[str, int]:
                st = a.store
                c = dict(st.request_counts())
                disk = st.disk_cache.stats() if st.disk_cache is not None else {}
                for k in ("hits", "misses", "used"):
                    c[f"disk_{k}"] = disk.get(k, 0)
                return c

            def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
                d = {k: after[k] - before[k] for k in after}
                d["disk_used"] = after["disk_used"]
                return d

            a = remote("once")
            epoch(local)
            before = counters(a)
            first = epoch(a)
            filled = counters(a)
            # Epoch 2 and the local read alternate, best of each: load from
            # other users of the machine hits both alike.
            best_local, best_disk = (0.0, 0.0), (0.0, 0.0)
            for _ in range(args.repeats):
                best_local = max(best_local, epoch(local))
                best_disk = max(best_disk, epoch(a))
            row("local disk", best_local, best_local, None, rows)
            row(
                "s3, epoch 1 (fills the disk cache)", first, best_local, delta(before, filled), rows
            )
            row("s3, epoch 2 (disk cache)", best_disk, best_local,
                delta(filled, counters(a)), rows)  # fmt: skip
            for check in ("once", "never"):
                b = remote(check)
                before = counters(b)
                speed = epoch(b)
                row(f"s3, restarted job, cache_check={check}", speed, best_local,
                    delta(before, counters(b)), rows)  # fmt: skip
            # The compressed level in memory instead of the disk cache: epoch 1
            # fills it, epoch 2 asks the server for nothing.
            stored = sum(f.stat().st_size for f in local_path.rglob("*") if f.is_file())
            m = fastchunk.open_array(
                url, storage_options=server.storage_options(endpoint_url=proxy.endpoint)
            )
            fastchunk.set_cache_size(2 * stored, compressed=True)
            try:
                epoch(m)
                filled = counters(m)
                best_mem = (0.0, 0.0)
                for _ in range(args.repeats):
                    best_local = max(best_local, epoch(local))
                    best_mem = max(best_mem, epoch(m))
                row("s3, epoch 2 (compressed level in memory)", best_mem, best_local,
                    delta(filled, counters(m)), rows)  # fmt: skip
            finally:
                fastchunk.set_cache_size(0, compressed=True)
                fastchunk.clear_cache(compressed=True)
        finally:
            if proxy is not None:
                proxy.stop()
            server.stop()


def row(
    label: str,
    speed: tuple[float, float],
    local: tuple[float, float],
    d: dict[str, int] | None,
    rows: list[dict[str, Any]],
) -> None:
    """One line of the S3 table: (GB/s, GB per CPU-s) against the local
    read's; d: request and disk-cache counts of the epoch."""
    x, xc = speed[0] / local[0], speed[1] / local[1]
    rows.append(
        {"part": "s3", "reader": label, "gbps": speed[0], "x_local": x,
         "gb_per_cpu_s": speed[1], "cpu_x_local": xc, **(d or {})}
    )  # fmt: skip
    head = f"| {label} | {gb(speed[0])} | {x:.2f} | {gb(speed[1])} | {xc:.2f} |"
    if d is None:
        print(f"{head} - | - | - | - |", flush=True)
        return
    gets = d["get"] + d["get_range"] + d["get_suffix"]
    lookups = d["disk_hits"] + d["disk_misses"]
    rate = f"{100 * d['disk_hits'] / lookups:.0f}%" if lookups else "-"
    print(f"{head} {gets} | {d['head']} | {d['disk_used'] / 1e6:.0f} | {rate} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dates", type=int, default=128, help="dates of the split and loader stores")
    p.add_argument("--s3-dates", type=int, default=64, help="dates of the S3 store")
    p.add_argument("--threads", type=int, default=1, help="native threads per rank (split)")
    p.add_argument("--workers", type=int, default=4, help="DataLoader workers")
    p.add_argument("--epochs", type=int, default=4, help="loader epochs; the last is timed")
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=2, help="best of")
    p.add_argument("--only", default="split,loader,s3", help="comma-separated parts")
    p.add_argument("--json", action="store_true", help="also write results/cascade.json")
    args = p.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"bench_cascade {started}, fastchunk {fastchunk.__version__}, cores {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f}, shm root {shared.shm_root()}"
    )
    rows: list[dict[str, Any]] = []
    parts = args.only.split(",")
    if "split" in parts:
        bench_split(args, rows)
    if "loader" in parts:
        bench_loader(args, rows)
    if "s3" in parts:
        bench_s3(args, rows)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    if args.json:
        RESULTS_DIR.mkdir(exist_ok=True)
        doc = {"started": started, "command": " ".join(sys.argv), "rows": rows}
        (RESULTS_DIR / "cascade.json").write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
