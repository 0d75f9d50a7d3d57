"""S3 benchmark: fastchunk vs zarr-python over obstore vs tensorstore's s3
driver, against a SeaweedFS server on loopback, with no added latency and with
a fixed delay added to every request by a loopback proxy.

    python benchmarks/bench_s3.py [--dates 192] [--latency-ms 20] [--repeats 3]

Workloads on anemoi-like arrays (dates, variables, ensemble, grid), one
chunk per date (`chunked`, blosc) or sharded with one date per inner chunk
and --shard-dates dates per shard (`sharded`, zstd):
  gather  a shuffled batch of dates (take / oindex / index array)
  window  consecutive dates (a training window), the whole grid
  full    the whole array: more objects than one round of concurrent
          requests, so fastchunk decodes while later objects are in flight
Limit: with concurrency C and per-request latency L, n requests take at
least ceil(n / C) * L; `limit` is that floor (0 when L is 0).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import fastchunk  # noqa: E402
from tests import s3_server  # noqa: E402


def make_store(
    root: str, dates: int, variables: int, grid: int, layout: str, shard_dates: int
) -> tuple[str, np.ndarray]:
    import zarr
    from zarr.codecs import BloscCodec, ZstdCodec

    rng = np.random.default_rng(0)
    base = np.sin(np.linspace(0, 20, grid, dtype=np.float32))
    data = np.empty((dates, variables, 1, grid), dtype=np.float32)
    for d in range(dates):
        noise = rng.standard_normal((variables, 1, grid), dtype=np.float32) * 0.1
        data[d] = base + noise + d * 0.01
    path = os.path.join(root, f"{layout}.zarr")
    if layout == "sharded":
        z = zarr.create_array(
            path, shape=data.shape, chunks=(1, variables, 1, grid), dtype="f4",
            shards=(shard_dates, variables, 1, grid), compressors=ZstdCodec(level=3),
        )  # fmt: skip
    else:
        z = zarr.create_array(
            path, shape=data.shape, chunks=(1, variables, 1, grid), dtype="f4",
            compressors=BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
        )  # fmt: skip
    z[:] = data
    return path, data


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


class Readers:
    def __init__(self, server: s3_server.S3Server, endpoint: str, key: str) -> None:
        self.server = server
        self.endpoint = endpoint
        self.key = key

    def fastchunk(self, concurrency: int) -> Any:
        opts = self.server.storage_options(endpoint_url=self.endpoint, concurrency=concurrency)
        return fastchunk.open(f"s3://{self.server.bucket}/{self.key}", storage_options=opts)

    def zarr(self) -> Any:
        import zarr
        from obstore.store import S3Store
        from zarr.storage import ObjectStore

        store = S3Store(
            self.server.bucket, prefix=self.key, endpoint=self.endpoint,
            access_key_id=self.server.access_key, secret_access_key=self.server.secret_key,
            region=self.server.region, client_options={"allow_http": True},
        )  # fmt: skip
        return zarr.open_array(ObjectStore(store, read_only=True), mode="r")

    def tensorstore(self, concurrency: int) -> Any:
        import tensorstore as ts

        os.environ["AWS_ACCESS_KEY_ID"] = self.server.access_key
        os.environ["AWS_SECRET_ACCESS_KEY"] = self.server.secret_key
        spec = {
            "driver": "zarr3",
            "kvstore": {
                "driver": "s3", "bucket": self.server.bucket, "path": self.key + "/",
                "endpoint": self.endpoint, "aws_region": self.server.region,
                "aws_credentials": {"type": "environment"},
            },
            "context": {
                "s3_request_concurrency": {"limit": concurrency},
                "cache_pool": {"total_bytes_limit": 0},
            },
            "recheck_cached_data": False,
        }  # fmt: skip
        return ts.open(spec, read=True).result()


def bench_latency(
    args: argparse.Namespace,
    readers: Readers,
    data: np.ndarray,
    latency_ms: float,
    rng: np.random.Generator,
    layout: str,
) -> None:
    chunk_bytes = data[0].nbytes
    fc = readers.fastchunk(args.concurrency)
    zr = readers.zarr()
    tsa = readers.tensorstore(args.concurrency)
    batches = [rng.choice(args.dates, args.batch, replace=False)
               for _ in range(args.repeats)]  # fmt: skip
    starts = [int(rng.integers(0, args.dates - args.window))
              for _ in range(args.repeats)]  # fmt: skip
    it: dict[str, Any] = {}

    def cycle(name: str, items: list[Any]) -> Any:
        i = it.get(name, 0)
        it[name] = i + 1
        return items[i % len(items)]

    workloads = {
        "gather": (
            args.batch,
            {
                "fastchunk": lambda: fc.take(cycle("fc-g", batches)),
                "zarr": lambda: zr.oindex[cycle("z-g", batches)],
                "tensorstore": lambda: tsa[cycle("t-g", batches)].read().result(),
            },
            lambda: data[batches[0]],
            lambda r: r(),
        ),
        "window": (
            args.window,
            {
                "fastchunk": lambda: fc[(s := cycle("fc-w", starts)) : s + args.window],
                "zarr": lambda: zr[(s := cycle("z-w", starts)) : s + args.window],
                "tensorstore": lambda: (
                    tsa[(s := cycle("t-w", starts)) : s + args.window].read().result()
                ),
            },
            lambda: data[starts[0] : starts[0] + args.window],
            lambda r: r(),
        ),
        "full": (
            args.dates,
            {
                "fastchunk": lambda: fc[...],
                "zarr": lambda: zr[...],
                "tensorstore": lambda: tsa.read().result(),
            },
            lambda: data,
            lambda r: r(),
        ),
    }
    for wname, (nreq, fns, truth, call) in workloads.items():
        # Correctness first: the first call of each reader is checked.
        want = truth()
        for rname, fn in fns.items():
            it.clear()
            got = np.asarray(call(fn))
            if not np.array_equal(got, want):
                raise SystemExit(f"{rname} {wname}: wrong result")
        it.clear()
        results = {rname: median_time(fn, args.repeats) for rname, fn in fns.items()}
        limit = math.ceil(nreq / args.concurrency) * latency_ms / 1000
        if layout == "sharded":  # one index request per shard first
            limit += latency_ms / 1000
        nbytes = nreq * chunk_bytes
        for rname, secs in results.items():
            print(
                f"| {layout} | {latency_ms} ms | {wname} | {rname} | {secs:.3f} | "
                f"{nbytes / secs / 1e6:.0f} | {results['zarr'] / secs:.2f}x | "
                f"{limit:.3f} |",
                flush=True,
            )


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = s3_server.start_server(os.path.join(tmp, "s3"))
        proxy = None
        try:
            port = int(server.endpoint.rsplit(":", 1)[1])
            proxy = s3_server.ProxyProcess(port, args.latency_ms / 1000)
            header = (
                "| layout | latency | workload | reader | seconds | MB/s (decoded) | vs zarr "
                "| limit s |"
            )
            rng = np.random.default_rng(1)
            for layout in args.layouts.split(","):
                path, data = make_store(
                    tmp, args.dates, args.variables, args.grid, layout, args.shard_dates
                )
                server.upload_dir(path, f"{layout}.zarr")
                stored = sum(
                    os.path.getsize(os.path.join(dp, f))
                    for dp, _, fs in os.walk(path) for f in fs if f != "zarr.json"
                ) / args.dates  # fmt: skip
                print(
                    f"{layout}: array {data.shape} f4, chunk {data[0].nbytes / 1e6:.2f} MB "
                    f"decoded, {stored / 1e6:.2f} MB stored"
                    + (f", {args.shard_dates} dates per shard" if layout == "sharded" else "")
                    + f"; batch {args.batch}, window {args.window}, concurrency "
                    f"{args.concurrency}, {args.repeats} repeats (median); fastchunk threads "
                    f"{fastchunk.get_num_threads()}, cores {os.cpu_count()}"
                )
                print(header)
                print("|" + "---|" * 8)
                for latency_ms, endpoint in (
                    (0, server.endpoint), (args.latency_ms, proxy.endpoint)
                ):  # fmt: skip
                    readers = Readers(server, endpoint, f"{layout}.zarr")
                    bench_latency(args, readers, data, latency_ms, rng, layout)
        finally:
            if proxy is not None:
                proxy.stop()
            server.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dates", type=int, default=192)
    p.add_argument("--variables", type=int, default=8)
    p.add_argument("--grid", type=int, default=40320)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--window", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--layouts", default="chunked,sharded", help="chunked, sharded or both")
    p.add_argument("--shard-dates", type=int, default=16)
    run(p.parse_args())


if __name__ == "__main__":
    main()
