"""fastchunk against another build of itself over S3: the same SeaweedFS
server and stores as bench_s3.py, the two builds alternating in fresh
processes, so that load from other users hits both alike.

    python benchmarks/ab_s3.py --baseline /tmp/main-build [--rounds 7]

`--baseline` is a folder holding another build's `fastchunk` package (for
instance `pip install --no-deps --target /tmp/main-build <main's source>`);
the build under test is the one this Python imports. Prints one row per
(layout, latency, workload): median seconds of each build and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from bench_s3 import make_store  # noqa: E402

from tests import s3_server  # noqa: E402

# One workload, timed in a fresh process: median seconds of `reps` calls.
CHILD = r"""
import json, statistics, sys, time
import numpy as np, fastchunk
opts, url, work, reps = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
a = fastchunk.open(url, storage_options=opts)
rng = np.random.default_rng(1)
def call():
    if work == "gather":
        return a.take(rng.choice(a.shape[0], 32, replace=False))
    if work == "window":
        s = int(rng.integers(0, a.shape[0] - 8))
        return a[s : s + 8]
    return a[...]
call()
times = []
for _ in range(reps):
    t0 = time.perf_counter()
    call()
    times.append(time.perf_counter() - t0)
print(json.dumps(statistics.median(times)))
"""

# Hides an editable install of the build under test from the baseline's processes.
SITECUSTOMIZE = """import sys
sys.meta_path[:] = [f for f in sys.meta_path if not type(f).__module__.startswith("_editable_")]
"""


def timed(build_env: dict[str, str], opts: dict, url: str, work: str) -> float:
    reps = "5" if work == "full" else "15"
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(opts), url, work, reps],
                         env=build_env, capture_output=True, text=True)  # fmt: skip
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return float(json.loads(out.stdout))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--baseline", required=True, help="folder holding the other build's package")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--latency-ms", type=float, default=20.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shim = Path(tmp) / "shim"
        shim.mkdir()
        (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
        envs = {
            "baseline": dict(os.environ, PYTHONPATH=f"{args.baseline}{os.pathsep}{shim}"),
            "this build": dict(os.environ),
        }
        server = s3_server.start_server(os.path.join(tmp, "s3"))
        proxy = s3_server.ProxyProcess(int(server.endpoint.rsplit(":", 1)[1]),
                                       args.latency_ms / 1000)  # fmt: skip
        try:
            for layout in ("chunked", "sharded"):
                path, _ = make_store(tmp, 192, 8, 40320, layout, 16)
                server.upload_dir(path, f"{layout}.zarr")
            print("| layout | latency | workload | baseline s | this build s | baseline / this |")
            print("|---|---|---|---|---|---|")
            for layout in ("chunked", "sharded"):
                for latency, endpoint in ((0, server.endpoint), (args.latency_ms, proxy.endpoint)):
                    opts = server.storage_options(endpoint_url=endpoint)
                    url = f"s3://{server.bucket}/{layout}.zarr"
                    for work in ("gather", "window", "full"):
                        times: dict[str, list[float]] = {name: [] for name in envs}
                        for _ in range(args.rounds):
                            for name, env in envs.items():
                                times[name].append(timed(env, opts, url, work))
                        base = statistics.median(times["baseline"])
                        this = statistics.median(times["this build"])
                        print(f"| {layout} | {latency:g} ms | {work} | {base:.4f} | {this:.4f} | "
                              f"{base / this:.2f} |", flush=True)  # fmt: skip
        finally:
            proxy.stop()
            server.stop()


if __name__ == "__main__":
    main()
