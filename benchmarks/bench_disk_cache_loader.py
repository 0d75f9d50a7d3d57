"""The Loader over an object store's disk cache (`cache_dir`), against the
same Loader over the local store the objects came from.

    python benchmarks/bench_disk_cache_loader.py
    python benchmarks/bench_disk_cache_loader.py --encodings sharded --window -1,0,1

The store (benchmarks/make_stores.py) is uploaded to SeaweedFS on loopback
(`tests/s3_server.py`; by default no added latency: what is measured is the
reader's cost of a cache hit; --latency-ms puts a delaying proxy in front).
Per encoding, in one process: `--epochs` epochs of
`fastchunk.torch.Loader(array, batch_size, shuffle=True)` over the local
store, then over `s3://` with a disk cache in a temporary directory (epoch 1
fills it, later epochs read it; each epoch has its own permutation, so the
batches, and for sharded stores the ranges they coalesce, differ from the
ones that filled it), then over a second store opened on the same cache (a
restarted job: "once" asks one HEAD per object). Samples/s and the process's
CPU-seconds per epoch; best epoch after the first, and its ratio to local.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* servers
from common import StoreSize  # noqa: E402
from make_stores import write_store  # noqa: E402


def epochs(array: Any, n: int, batch: int, window: list[int] | None) -> list[tuple[float, float]]:
    """(samples/s, CPU-seconds) of each of `n` epochs, each its own permutation."""
    from fastchunk.torch import Loader

    out = []
    for epoch in range(n):
        loader = Loader(array, batch_size=batch, shuffle=True, seed=epoch, drop_last=True,
                        pin_memory=False, offsets=window)  # fmt: skip
        t0, c0, samples = time.perf_counter(), time.process_time(), 0
        for b in loader:
            samples += b.shape[0]
        out.append((samples / (time.perf_counter() - t0), time.process_time() - c0))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--encodings", default="zstd,blosc,sharded")
    p.add_argument("--dates", type=int, default=128)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--window", default="", help="sample offsets, e.g. --window=-1,0,1")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="added to every request by a loopback proxy")
    args = p.parse_args()
    import fastchunk
    from tests import s3_server

    window = [int(x) for x in args.window.split(",")] if args.window else None
    size = StoreSize(args.dates, 16, 40320)
    work = tempfile.mkdtemp(prefix="bench-disk-cache-")
    server = s3_server.start_server(os.path.join(work, "server"))
    proxy = None
    if args.latency_ms:
        port = int(server.endpoint.rsplit(":", 1)[1])
        proxy = s3_server.LatencyProxy(port, args.latency_ms / 1000).start()
    print(f"fastchunk {fastchunk.__version__}, {os.cpu_count()} cores, batch {args.batch}, "
          f"window {window}, {args.epochs} epochs, +{args.latency_ms:g} ms a request; "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| store | reader | samples/s by epoch | CPU s by epoch | best after the first "
          "| x local |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    try:
        for enc in args.encodings.split(","):
            local = write_store(enc, size)
            server.upload_dir(local, f"bench/{enc}.zarr")
            url = f"s3://{server.bucket}/bench/{enc}.zarr"
            opts = server.storage_options(cache_dir=os.path.join(work, f"cache-{enc}"),
                                          cache_size="4GB")  # fmt: skip
            if proxy is not None:
                opts["endpoint_url"] = proxy.endpoint
            runs = [("local", str(local), None), ("s3 + disk cache", url, opts),
                    ("s3 + disk cache, restarted", url, opts)]  # fmt: skip
            best_local = 0.0
            for name, where, options in runs:
                array = fastchunk.open(where, storage_options=options)
                got = epochs(array, args.epochs, args.batch, window)
                best = max(r for r, _ in got[1:])
                best_local = best if name == "local" else best_local
                rates = " ".join(f"{r:.0f}" for r, _ in got)
                cpus = " ".join(f"{c:.2f}" for _, c in got)
                print(f"| {enc} | {name} | {rates} | {cpus} | {best:.0f} | "
                      f"{best / best_local:.2f} |", flush=True)  # fmt: skip
    finally:
        if proxy is not None:
            proxy.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
