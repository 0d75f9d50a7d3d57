"""anemoi-training's own train_dataloader(): its stock DataLoader with 1, 2
and 4 worker processes against the same datamodule served by fastchunk
(fastchunk.anemoi.training.use_fastchunk, what the UseFastchunk callback
does), on datasets made by `anemoi-datasets create`: the 1-degree grid with
27 variables (7.0 MB per date) and an O96-like grid (40320 points). Windows
of 3 dates (a Forecaster, multistep 2), batch 2, with read_group_size 1 and
4 (reader rank 0 reads a quarter of the grid).

Every run is a fresh process in anemoi-training's environment
(benchmarks/anemoi_training_side.py in .venv-anemoi): a warm-up pass, then
--passes timed passes. Reported: samples/s, CPU-seconds per sample of the
whole process tree (workers included), peak RSS and PSS summed over the
tree, and the peak PSS of anonymous and shared memory alone (file pages
mapped by fastchunk's local reads are page cache, which a reader using
read() holds too without showing it). The fastchunk run serves the batches
of the stock loader with 2 workers: their checksums must agree.

    python benchmarks/bench_anemoi_training.py             # both grids
    python benchmarks/bench_anemoi_training.py --quick     # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_anemoi import ANEMOI_PY, make_dataset  # noqa: E402

import fastchunk  # noqa: E402

GRIDS = {"1deg": (181, 360), "o96": (160, 252)}


def side(job: dict[str, Any], path_dir: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(path_dir)  # the fastchunk this script imports
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(job, f)
    try:
        done = subprocess.run([str(ANEMOI_PY), str(HERE / "anemoi_training_side.py"), f.name],
                              env=env, capture_output=True, text=True, timeout=1800)  # fmt: skip
    finally:
        os.unlink(f.name)
    if done.returncode:
        raise RuntimeError(done.stderr[-4000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dates", type=int, default=64)
    p.add_argument("--grids", default="1deg,o96")
    p.add_argument("--variables", type=int, default=27)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--passes", type=int, default=2, help="timed passes after the warm-up")
    p.add_argument("--workers", default="1,2,4", help="stock DataLoader worker counts")
    p.add_argument("--read-groups", default="1,4")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    grids = {g: GRIDS[g] for g in args.grids.split(",")}
    if args.quick:
        args.dates, grids, args.passes, args.workers = 16, {"small": (40, 64)}, 1, "1,2"
    if not ANEMOI_PY.exists():
        raise SystemExit(f"{ANEMOI_PY} is missing: run scripts/setup.sh")
    path_dir = Path(tempfile.mkdtemp(prefix="fastchunk-path-"))
    (path_dir / "fastchunk").symlink_to(Path(fastchunk.__file__).parent)
    workers = [int(w) for w in args.workers.split(",")]
    print(f"load {os.getloadavg()[0]:.1f}; {os.cpu_count()} cores; batch {args.batch_size}, "
          f"windows of 3 dates, {args.passes} timed passes after a warm-up")  # fmt: skip
    header = (f"{'grid':6s} {'rgs':>3s} {'loader':24s} {'samples/s':>9s} {'CPU-s/sample':>12s} "
              f"{'peak RSS MB':>11s} {'peak PSS MB':>11s} {'anon PSS MB':>11s}")  # fmt: skip
    rows = []
    for grid, (lat, lon) in grids.items():
        path = make_dataset(args.dates, lat, lon, args.variables)
        for rgs in (int(r) for r in args.read_groups.split(",")):
            best: dict[str, dict[str, Any]] = {}
            for _ in range(args.repeats):
                runs = [("stock", w) for w in workers] + [("fastchunk", 2)]
                for loader, w in runs:
                    job = {"path": str(path), "loader": loader, "workers": w,
                           "batch_size": args.batch_size, "read_group_size": rgs,
                           "passes": args.passes}  # fmt: skip
                    name = f"fastchunk (order of {w} workers)" if loader == "fastchunk" else (
                        f"stock, {w} worker{'s' if w > 1 else ''}")
                    r = side(job, path_dir)
                    if name not in best or r["samples_per_s"] > best[name]["samples_per_s"]:
                        best[name] = r
            fc = best["fastchunk (order of 2 workers)"]
            stock2 = best.get("stock, 2 workers")
            if stock2 is not None and abs(stock2["checksum"] - fc["checksum"]) > 1e-6 * abs(
                stock2["checksum"]
            ):
                raise SystemExit(f"checksums differ: stock {stock2['checksum']} fastchunk "
                                 f"{fc['checksum']}")  # fmt: skip
            stock_best = max((v for k, v in best.items() if k.startswith("stock")),
                             key=lambda v: v["samples_per_s"])  # fmt: skip
            for name, r in best.items():
                rows.append(f"{grid:6s} {rgs:3d} {name:24s} {r['samples_per_s']:9.1f} "
                            f"{r['cpu_per_sample']:12.4f} {r['peak_rss'] / 1e6:11.0f} "
                            f"{r['peak_pss'] / 1e6:11.0f} "
                            f"{r['peak_anon'] / 1e6:11.0f}")  # fmt: skip
            rows.append(
                f"{grid:6s} {rgs:3d} fastchunk / best stock: "
                f"{fc['samples_per_s'] / stock_best['samples_per_s']:.2f}x samples/s "
                f"(target 3x), {fc['peak_pss'] / stock_best['peak_pss']:.2f}x peak PSS, "
                f"{fc['peak_anon'] / stock_best['peak_anon']:.2f}x peak anon PSS, "
                f"{fc['cpu_per_sample'] / stock_best['cpu_per_sample']:.2f}x CPU per sample"
            )
    print(header)
    for row in rows:
        print(row)
    print(f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
