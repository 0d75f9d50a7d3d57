"""Epoch 1 of a Loader over an object store, with latency, against the same
Loader over a local copy.

    python benchmarks/bench_epoch1.py                      # S3 and GCS, 0/20/50 ms
    python benchmarks/bench_epoch1.py --backends s3 --latencies 20 --repeats 1

The store (benchmarks/make_stores.py, 2.58 MB chunks at the default shape)
is uploaded to SeaweedFS (`tests/s3_server.py`) and to fake-gcs-server
(`tests/gcs_server.py`); every request passes a loopback proxy in its own
process that delays it by the latency (`LatencyProxy`). Layouts: `chunked`
(blosc lz4, one object per date, zarr v2 as anemoi writes) and `sharded`
(zstd 3, 16 dates per shard, one date per inner chunk: ranges of a shard,
coalesced per batch).

Each epoch runs `fastchunk.torch.Loader(url, batch_size)` in a fresh process
(nothing cached from a previous run), best of --repeats, local and remote
alternated. Reported: wall seconds; the client process's CPU seconds (user +
system, all threads) and CPU seconds per decoded GB; the server's and the
proxy's CPU seconds during the epoch (they share the machine's cores);
requests by kind; bytes fetched per byte used (the stored bytes of the chunks
decoded); the peak anonymous resident memory (RssAnon, sampled every 10 ms)
above the process's before the epoch, against the Loader's budget (its ring
of batches plus its prefetch budget).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* servers
from common import StoreSize  # noqa: E402
from floor import chunk_files  # noqa: E402
from make_stores import write_store  # noqa: E402

LAYOUTS = {"chunked": "blosc", "sharded": "sharded"}
MB = 1 << 20


# ------------------------------------------------------------------ the probe
def proc_status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def thread_cpu() -> dict[str, float]:
    """CPU seconds of this process's threads, summed by thread name (comm)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def probe(args: argparse.Namespace) -> dict[str, Any]:
    """Subprocess mode: one epoch of a Loader over args.url."""
    import fastchunk  # noqa: F401
    from fastchunk.torch import Loader

    options = json.loads(args.options) if args.options else None
    extra: dict[str, Any] = json.loads(args.loader_kwargs) if args.loader_kwargs else {}
    loader = Loader(
        args.url, batch_size=args.batch, shuffle=True, seed=0, storage_options=options, **extra
    )
    store = loader.dataset.array.store
    before = dict(store.request_counts()) if hasattr(store, "request_counts") else {}
    # Anonymous memory, sampled: file pages the local reads map are the page
    # cache's, not the process's.
    base_kb = proc_status_kb("RssAnon")
    peak_kb = [base_kb]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak_kb[0] = max(peak_kb[0], proc_status_kb("RssAnon"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads0 = thread_cpu()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    decoded = 0
    for batch in loader:
        decoded += batch.numel() * batch.element_size()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    threads1 = thread_cpu()
    done.set()
    sampler.join()
    peak_kb[0] = max(peak_kb[0], proc_status_kb("RssAnon"))
    after = dict(store.request_counts()) if hasattr(store, "request_counts") else {}
    slot = loader.batch_size * int(
        __import__("numpy").prod(loader.dataset.output_shape)
    ) * loader.dataset.array.dtype.itemsize
    return {
        "wall": wall,
        "user": ru1.ru_utime - ru0.ru_utime,
        "sys": ru1.ru_stime - ru0.ru_stime,
        "decoded": decoded,
        "requests": {k: after[k] - before.get(k, 0) for k in after},
        "peak_mb": (peak_kb[0] - base_kb) / 1024,
        "threads_cpu": {
            k: round(v - threads0.get(k, 0.0), 3)
            for k, v in threads1.items()
            if v - threads0.get(k, 0.0) > 0.005
        },
        "ring_mb": (loader.prefetch + 1) * slot / MB,
        "prefetch_budget_mb": getattr(loader, "prefetch_bytes", 0) / MB,
    }


def cpu_of(pid: int) -> float:
    """User + system seconds of process `pid` (all threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_probe(
    url: str, options: dict[str, Any] | None, args: argparse.Namespace, others: dict[str, int]
) -> dict[str, Any]:
    cmd = [
        sys.executable, __file__, "--probe", url, "--batch", str(args.batch),
        "--options", json.dumps(options) if options else "",
        "--loader-kwargs", args.loader_kwargs or "",
    ]  # fmt: skip
    cpu0 = {name: cpu_of(pid) for name, pid in others.items()}
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["?"])[-1]}
    got = json.loads(res.stdout.strip().splitlines()[-1])
    for name, pid in others.items():
        got[f"{name}_cpu"] = cpu_of(pid) - cpu0[name]
    return got


# ------------------------------------------------------------------ servers
class S3Backend:
    name = "s3"

    def __init__(self, tmp: str, stores: dict[str, Path]) -> None:
        from tests import s3_server

        self.mod = s3_server
        self.server = s3_server.start_server(os.path.join(tmp, "s3"))
        for layout, path in stores.items():
            self.server.upload_dir(path, f"{layout}.zarr")
        self.port = int(self.server.endpoint.rsplit(":", 1)[1])
        self.proxy: Any = None

    def at_latency(self, ms: float) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.proxy = self.mod.ProxyProcess(self.port, ms / 1000)

    def url(self, layout: str) -> str:
        return f"s3://{self.server.bucket}/{layout}.zarr"

    def options(self) -> dict[str, Any]:
        return self.server.storage_options(endpoint_url=self.proxy.endpoint)

    def pids(self) -> dict[str, int]:
        return {"server": self.server.process.pid, "proxy": self.proxy.process.pid}

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        self.server.stop()


class GCSBackend:
    """fake-gcs-server answers its XML API (what obstore uses) only for
    requests addressed to its public host: the proxy's port, so one server
    (and one upload) per latency."""

    name = "gcs"

    def __init__(self, tmp: str, stores: dict[str, Path]) -> None:
        from tests import gcs_server, s3_server

        self.gcs, self.s3 = gcs_server, s3_server
        self.tmp, self.stores = tmp, stores
        self.server: Any = None
        self.proxy: Any = None

    def at_latency(self, ms: float) -> None:
        self.stop()
        port = self.gcs.free_port()
        self.proxy = self.s3.ProxyProcess(port, ms / 1000)
        self.server = self.gcs.start_server(
            os.path.join(self.tmp, f"gcs-{ms:g}"), gated=False, port=port,
            public_port=self.proxy.port,
        )  # fmt: skip
        for layout, path in self.stores.items():
            self.server.upload_dir(path, f"{layout}.zarr")

    def url(self, layout: str) -> str:
        return f"gs://{self.server.bucket}/{layout}.zarr"

    def options(self) -> dict[str, Any]:
        return {"endpoint_url": self.proxy.endpoint, "token": "anon"}

    def pids(self) -> dict[str, int]:
        return {"server": self.server.process.pid, "proxy": self.proxy.process.pid}

    def stop(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.server is not None:
            self.server.stop()
            self.server = None


# ------------------------------------------------------------------ report
def used_bytes(path: Path, enc: str, size: StoreSize) -> int:
    """Stored bytes of the chunks an epoch decodes (every date once)."""
    return sum(c.length for c in chunk_files(path, enc, size))


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "wall" in r]
    if not ok:
        return runs[0] if runs else {"error": "no run"}
    b = dict(min(ok, key=lambda r: r["wall"]))
    b["cpu"] = min(r["user"] + r["sys"] for r in ok)
    b["peak_mb"] = max(r["peak_mb"] for r in ok)
    return b


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| backend | layout | latency ms | wall s | x local | x 0 ms | client CPU s | "
        "CPU s / GB | x local | server CPU s | proxy CPU s | GET | range | suffix | HEAD | "
        "fetched / used | peak MB (budget) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['backend']} | {r['layout']} | {r.get('latency', '')} | "
                         f"error: {r['error']} |")  # fmt: skip
            continue
        q = r.get("requests", {})
        fetched = f"{r['fetched_per_used']:.2f}" if "fetched_per_used" in r else ""
        budget = r["ring_mb"] + r["prefetch_budget_mb"]
        lines.append(
            f"| {r['backend']} | {r['layout']} | {r.get('latency', '')} | {r['wall']:.3f} | "
            f"{r.get('x_local', 1.0):.2f} | {r.get('x_zero', float('nan')):.2f} | "
            f"{r['cpu']:.2f} | {r['cpu_per_gb']:.2f} | {r.get('cpu_x_local', 1.0):.2f} | "
            f"{r.get('server_cpu', 0):.2f} | {r.get('proxy_cpu', 0):.2f} | "
            f"{q.get('get', '')} | {q.get('get_range', '')} | {q.get('get_suffix', '')} | "
            f"{q.get('head', '')} | {fetched} | {r['peak_mb']:.0f} ({budget:.0f}) |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dates", type=int, default=128)
    p.add_argument("--variables", type=int, default=16)
    p.add_argument("--points", type=int, default=40320)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--latencies", default="0,20,50", help="ms added to every request")
    p.add_argument("--layouts", default="chunked,sharded")
    p.add_argument("--backends", default="s3,gcs")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--loader-kwargs", default="", help="JSON of extra Loader arguments")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--probe", help=argparse.SUPPRESS)
    p.add_argument("--options", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        args.url = args.probe
        print(json.dumps(probe(args)))
        return

    size = StoreSize(args.dates, args.variables, args.points)
    layouts = args.layouts.split(",")
    stores = {layout: write_store(LAYOUTS[layout], size) for layout in layouts}
    used = {layout: used_bytes(stores[layout], LAYOUTS[layout], size) for layout in layouts}
    latencies = [float(x) for x in args.latencies.split(",")]
    print(f"uptime: {os.getloadavg()}; {size.tag()} ({size.nbytes / 1e9:.2f} GB decoded), "
          f"batch {args.batch}, best of {args.repeats}", flush=True)  # fmt: skip
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        local: dict[str, list[dict[str, Any]]] = {layout: [] for layout in layouts}
        for backend_name in args.backends.split(","):
            backend = (S3Backend if backend_name == "s3" else GCSBackend)(tmp, stores)
            try:
                for ms in latencies:
                    backend.at_latency(ms)
                    for layout in layouts:
                        runs = []
                        for _ in range(args.repeats):  # local and remote alternate
                            local[layout].append(run_probe(str(stores[layout]), None, args, {}))
                            runs.append(run_probe(backend.url(layout), backend.options(), args,
                                                  backend.pids()))  # fmt: skip
                        r = best(runs)
                        r.update(backend=backend_name, layout=layout, latency=ms)
                        if "requests" in r:
                            r["fetched_per_used"] = r["requests"].get("bytes", 0) / used[layout]
                        rows.append(r)
                        print(f"  {backend_name} {layout} {ms:g} ms: "
                              f"{r.get('wall', float('nan')):.3f} s", flush=True)  # fmt: skip
            finally:
                backend.stop()
        for layout in layouts:
            r = best(local[layout])
            r.update(backend="local", layout=layout, latency="")
            rows.insert(0, r)
    loc = {r["layout"]: r for r in rows if r["backend"] == "local"}
    zero = {(r["backend"], r["layout"]): r for r in rows if r.get("latency") == 0}
    for r in rows:
        if "wall" not in r:
            continue
        r["cpu_per_gb"] = r["cpu"] / (r["decoded"] / 1e9)
        base = loc.get(r["layout"])
        if base and "wall" in base:
            r["x_local"] = base["wall"] / r["wall"]
            r["cpu_x_local"] = r["cpu_per_gb"] / (base["cpu"] / (base["decoded"] / 1e9))
        z = zero.get((r["backend"], r["layout"]))
        if z and "wall" in z:
            r["x_zero"] = z["wall"] / r["wall"]
    print()
    print(table(rows))
    print(f"\nuptime: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(sys.argv), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
