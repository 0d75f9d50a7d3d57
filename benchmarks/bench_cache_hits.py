"""The cost of a hit in the process's decoded-chunk cache, per chunk, where it
matters most: many small chunks of a local store, every one already decoded
and kept. Since the key names each file's version (issue 20), a hit costs a
stat of its file; this measures what that adds to a hit and to a read.

    python benchmarks/bench_cache_hits.py [--chunks 4096] [--chunk-kb 4] [--repeats 7]

Prints one JSON line per workload: microseconds per chunk for a whole-array
read served by the cache (best of --repeats), against the same read with the
cache off (decoding zstd chunks from the page cache), in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np
import zarr

import fastchunk


def best(fn, repeats: int) -> float:
    out = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=4096)
    parser.add_argument("--chunk-kb", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    fastchunk.set_num_threads(args.threads)
    items = args.chunk_kb * 256
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.zarr")
        z = zarr.create_array(path, shape=(args.chunks, items), chunks=(1, items), dtype="f4")
        z[...] = np.random.default_rng(0).standard_normal((args.chunks, items)).astype("f4")
        a = fastchunk.open(path)
        a[...]  # the page cache warm
        fastchunk.set_cache_size(0)
        decode = best(lambda: a[...], args.repeats)
        fastchunk.set_cache_size(2 * args.chunks * items * 4)
        a[...]  # every chunk kept
        hits = best(lambda: a[...], args.repeats)
        info = fastchunk.get_cache_info()
        fastchunk.set_cache_size(0)
        for name, seconds in (("cache off (decode)", decode), ("cache hits", hits)):
            print(json.dumps({
                "workload": name, "chunks": args.chunks, "chunk_kb": args.chunk_kb,
                "threads": args.threads, "us_per_chunk": round(seconds / args.chunks * 1e6, 3),
                "hits": info["hits"], "core": fastchunk._core.__file__,
            }))


if __name__ == "__main__":
    main()
