"""zarr 2.18 + numcodecs reading single dates, run by bench_sample.py in
anemoi-datasets' environment (.venv-anemoi): what anemoi reads with.

    python sample_zarr2_side.py STORE       # then one JSON job per stdin line

Each job {"dates": [...]} reads z[i] for every date, timing each call, and
answers one JSON line {"seconds": [...], "cpu": total CPU seconds, "sum": ...}.
numcodecs decodes a blosc chunk with its global blosc threads (as many as
the machine's cores, at most 8), as it does under anemoi.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np
import zarr


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main() -> None:
    z = zarr.open(sys.argv[1], mode="r")
    print(json.dumps({"ready": True, "zarr": zarr.__version__}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        seconds, total = [], 0.0
        c0 = cpu()
        for i in job["dates"]:
            t0 = time.perf_counter()
            x = z[i]
            seconds.append(time.perf_counter() - t0)
            total += float(np.asarray(x, dtype=np.float64).ravel()[::997].sum())
        print(json.dumps({"seconds": seconds, "cpu": cpu() - c0, "sum": total}), flush=True)


if __name__ == "__main__":
    main()
