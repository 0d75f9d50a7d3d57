"""Icechunk benchmark: fastchunk on an Icechunk repository against Icechunk +
zarr-python (its default codec pipeline, and zarrs' when it accepts the
store), and fastchunk on a plain zarr copy of the same array, locally and on
S3 (SeaweedFS on loopback, a fixed delay added to every request by a loopback
proxy).

    python benchmarks/bench_icechunk.py [--dates 128] [--latency-ms 20] [--threads 2]

The array is anemoi-like: (dates, variables, 1, grid) float32, zstd, one
chunk per date (one native chunk object per date in the repository).
Workloads:
  batches  --batches shuffled batches of --batch random dates (take / oindex;
           and fastchunk.torch.Loader's first --batches batches of an epoch,
           which fetches the next batches' bytes ahead from an object store)
  full     the whole array
Every reader's first result is checked against the data written. The
readers take turns, --repeats times; rows give the best and the median
seconds, GB/s of decoded data (best), and the ratios (of the best) to
Icechunk + zarr-python and to fastchunk on the plain zarr copy. `floor` is
the decode floor of the local repository: the same chunks read (pread) and
decoded by libzstd alone in as many threads (benchmarks/floor.py)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import fastchunk  # noqa: E402
from tests import s3_server  # noqa: E402


def make_data(dates: int, variables: int, grid: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = np.sin(np.linspace(0, 20, grid, dtype=np.float32))
    data = np.empty((dates, variables, 1, grid), dtype=np.float32)
    for d in range(dates):
        data[d] = base + rng.standard_normal((variables, 1, grid), dtype=np.float32) * 0.1
    return data


def write_stores(root: str, data: np.ndarray) -> tuple[str, str]:
    """(Icechunk repository, plain zarr v3 copy), both zstd level 3, one chunk per date."""
    import icechunk
    import zarr
    from zarr.codecs import ZstdCodec

    icechunk.set_logs_filter("error")
    chunks = (1, *data.shape[1:])
    repo_path = os.path.join(root, "repo")
    repo = icechunk.Repository.create(icechunk.local_filesystem_storage(repo_path))
    session = repo.writable_session("main")
    a = zarr.create_array(session.store, name="data", shape=data.shape, chunks=chunks,
                          dtype="f4", compressors=ZstdCodec(level=3))  # fmt: skip
    a[:] = data
    session.commit("data")
    plain = os.path.join(root, "plain.zarr")
    z = zarr.create_array(plain, shape=data.shape, chunks=chunks, dtype="f4",
                          compressors=ZstdCodec(level=3))  # fmt: skip
    z[:] = data
    return repo_path, plain


def icechunk_array(storage: Any, pipeline: str | None) -> Any:
    import icechunk
    import zarr

    repo = icechunk.Repository.open(storage)
    store = repo.readonly_session("main").store
    if pipeline is None:
        return zarr.open_array(store, path="data", mode="r")
    # strict: zarrs refuses a store it cannot read itself rather than falling
    # back to zarr-python's pipeline (which would be measured under its name).
    with zarr.config.set({"codec_pipeline.path": pipeline, "codec_pipeline.strict": True}):
        arr = zarr.open_array(store, path="data", mode="r")
        arr[0:1]
    used = type(arr._async_array.codec_pipeline).__name__
    if "Zarrs" not in used:
        raise RuntimeError(f"zarr-python made a {used} for the Icechunk store")
    return arr


def zarrs_pipeline() -> str | None:
    try:
        import zarrs  # noqa: F401
    except ImportError:
        return None
    return "zarrs.ZarrsCodecPipeline"


def readers(where: str, storages: dict[str, Any], plain: Any, repo: Any,
            plain_zarr: Any) -> dict[str, tuple[Any, str]]:  # fmt: skip
    """name -> (array, kind): kind "take" (fastchunk) or "oindex" (zarr-python)."""
    out: dict[str, tuple[Any, str]] = {}
    out["icechunk+zarr"] = (icechunk_array(storages[where], None), "oindex")
    pipe = zarrs_pipeline()
    if pipe is not None:
        try:
            out["icechunk+zarrs"] = (icechunk_array(storages[where], pipe), "oindex")
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            print(f"  (zarrs pipeline refused the Icechunk store: {type(e).__name__}: {e})")
    out["fastchunk icechunk"] = (repo, "take")
    out["fastchunk icechunk Loader"] = (repo, "loader")
    out["fastchunk plain zarr"] = (plain, "take")
    out["zarr plain"] = (plain_zarr, "oindex")
    return out


def run_location(args: argparse.Namespace, where: str, all_readers: dict[str, tuple[Any, str]],
                 data: np.ndarray, floor: Any) -> None:  # fmt: skip
    rng = np.random.default_rng(7)
    batches = [rng.choice(args.dates, args.batch, replace=False) for _ in range(args.batches)]

    def loader_epoch(arr: Any) -> list[Any]:
        """The first --batches batches of a fastchunk.torch.Loader's epoch:
        the sampler's own shuffled batches, the next ones' bytes fetched ahead
        from an object store while one decodes. Returns (indices, copy) pairs."""
        from fastchunk.torch import Loader

        loader = Loader(arr, batch_size=args.batch, seed=7, num_threads=args.threads,
                        pin_memory=False)  # fmt: skip
        order = loader.sampler.batches(0)[: args.batches]
        it = iter(loader)
        got = []
        for idx in order:
            batch = next(it)
            got.append((idx, batch.numpy().copy() if check[0] else None))
        it.close()
        return got

    check = [True]

    def workload(name: str, arr: Any, kind: str) -> Callable[[], Any]:
        if name == "batches":
            if kind == "take":
                return lambda: [arr.take(b, axis=0) for b in batches]
            if kind == "loader":
                return lambda: loader_epoch(arr)
            return lambda: [arr.oindex[b] for b in batches]
        return lambda: arr[...]

    for wname, nbytes in (("batches", args.batches * args.batch * data[0].nbytes),
                          ("full", data.nbytes)):  # fmt: skip
        fns = {}
        for rname, (arr, kind) in all_readers.items():
            if kind == "loader" and wname != "batches":
                continue
            check[0] = True
            got = workload(wname, arr, kind)()
            check[0] = False
            want = [data[b] for b in batches] if wname == "batches" else [data]
            if kind == "loader":
                want = [data[idx] for idx, _ in got]
                got = [batch for _, batch in got]
            got_list = got if isinstance(got, list) else [got]
            if not all(np.array_equal(np.asarray(g), w) for g, w in zip(got_list, want,
                                                                      strict=True)):  # fmt: skip
                raise SystemExit(f"{rname} {wname} {where}: wrong result")
            fns[rname] = workload(wname, arr, kind)
        # Readers take turns, repeat after repeat: a change of the machine's
        # load hits them all alike.
        times: dict[str, list[float]] = {rname: [] for rname in fns}
        for _ in range(args.repeats):
            for rname, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[rname].append(time.perf_counter() - t0)
        results = {rname: min(ts) for rname, ts in times.items()}
        medians = {rname: statistics.median(ts) for rname, ts in times.items()}
        if floor is not None and where == "local":
            results["floor (zstd, pread)"] = medians["floor (zstd, pread)"] = floor(wname, batches)
        base = results["icechunk+zarr"]
        plain = results["fastchunk plain zarr"]
        for rname, secs in results.items():
            print(f"| {where} | {wname} | {rname} | {secs:.3f} | {medians[rname]:.3f} | "
                  f"{nbytes / secs / 1e9:.2f} | {base / secs:.2f}x | {plain / secs:.2f} |",
                  flush=True)  # fmt: skip


def make_floor(repo_path: str, args: argparse.Namespace, data: np.ndarray) -> Any:
    """The decode floor of the local repository's chunks (libzstd alone)."""
    try:
        from floor import ChunkFile, Job
    except ImportError:
        return None
    node = fastchunk.open(repo_path)["data"]
    _native, refs = node.store.array_refs("data")
    coords, _kinds, targets, lengths = refs.entries()
    locations = refs.targets()
    files: dict[int, Any] = {}
    for c, t, n in zip(coords.tolist(), targets.tolist(), lengths.tolist(), strict=True):
        files[c[0]] = (os.path.join(repo_path, locations[t][0]), n)
    chunk = [ChunkFile(files[d][0], 0, files[d][1]) for d in range(args.dates)]
    cb = data[0].nbytes

    def floor(workload: str, batches: list[np.ndarray]) -> float:
        job = Job("zstd", args.threads, "throughput", "pread")
        if workload == "batches":
            # One job batch per loader batch, timed together: the readers' work.
            for b in batches:
                job.batch([chunk[d] for d in b.tolist()], cb, cb)
        else:
            job.batch(chunk, cb, cb)
        lines = job.run(args.repeats)
        runs = [x.split() for x in lines if x.startswith("repeat ")]
        return min(float(r[2]) for r in runs)

    return floor


def run(args: argparse.Namespace) -> None:
    import icechunk
    import zarr

    fastchunk.set_num_threads(args.threads)
    zarr.config.set({"threading.max_workers": args.threads})
    data = make_data(args.dates, args.variables, args.grid)
    with tempfile.TemporaryDirectory() as tmp:
        repo_path, plain_path = write_stores(tmp, data)
        chunk_dir = os.path.join(repo_path, "chunks")
        stored = sum(os.path.getsize(os.path.join(dp, f))
                     for dp, _, fs in os.walk(chunk_dir) for f in fs)  # fmt: skip
        print(f"array {data.shape} f4, chunk {data[0].nbytes / 1e6:.2f} MB decoded, "
              f"{stored / args.dates / 1e6:.2f} MB stored (zstd 3); {args.batches} batches of "
              f"{args.batch} dates; {args.threads} threads for every reader (fastchunk "
              f"set_num_threads, zarr threading.max_workers); {args.repeats} repeats, readers in "
              f"turn; "
              f"cores {os.cpu_count()}; icechunk {icechunk.__version__}, zarr {zarr.__version__}")
        print("| where | workload | reader | best s | median s | GB/s (best) | vs icechunk+zarr "
              "| vs fastchunk plain zarr |")
        print("|" + "---|" * 8)
        locations = args.where.split(",")
        if "local" in locations:
            storages = {"local": icechunk.local_filesystem_storage(repo_path)}
            all_readers = readers("local", storages, fastchunk.open(plain_path),
                                  fastchunk.open(repo_path)["data"],
                                  zarr.open_array(plain_path, mode="r"))  # fmt: skip
            run_location(args, "local", all_readers, data, make_floor(repo_path, args, data))
        if "s3" in locations:
            server = s3_server.start_server(os.path.join(tmp, "s3"))
            proxy = None
            try:
                port = int(server.endpoint.rsplit(":", 1)[1])
                proxy = s3_server.ProxyProcess(port, args.latency_ms / 1000)
                server.upload_dir(repo_path, "repo")
                server.upload_dir(plain_path, "plain.zarr")
                opts = server.storage_options(endpoint_url=proxy.endpoint)
                storages = {"s3": icechunk.s3_storage(
                    bucket=server.bucket, prefix="repo", region=server.region,
                    endpoint_url=proxy.endpoint, allow_http=True, force_path_style=True,
                    access_key_id=server.access_key,
                    secret_access_key=server.secret_key)}  # fmt: skip
                from obstore.store import S3Store
                from zarr.storage import ObjectStore

                plain_zarr = zarr.open_array(ObjectStore(S3Store(
                    server.bucket, prefix="plain.zarr", endpoint=proxy.endpoint,
                    access_key_id=server.access_key, secret_access_key=server.secret_key,
                    region=server.region, client_options={"allow_http": True}),
                    read_only=True), mode="r")  # fmt: skip
                where = f"s3 +{args.latency_ms:g} ms"
                storages[where] = storages["s3"]
                all_readers = readers(
                    where, storages,
                    fastchunk.open(f"s3://{server.bucket}/plain.zarr", storage_options=opts),
                    fastchunk.open(f"s3://{server.bucket}/repo", storage_options=opts)["data"],
                    plain_zarr)  # fmt: skip
                run_location(args, where, all_readers, data, None)
            finally:
                if proxy is not None:
                    proxy.stop()
                server.stop()
    print(f"uptime: {os.popen('uptime').read().strip()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dates", type=int, default=128)
    p.add_argument("--variables", type=int, default=16)
    p.add_argument("--grid", type=int, default=40320)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--batches", type=int, default=12)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--latency-ms", type=float, default=20.0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--where", default="local,s3", help="local, s3 or both")
    run(p.parse_args())


if __name__ == "__main__":
    main()
