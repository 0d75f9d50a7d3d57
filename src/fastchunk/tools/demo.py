"""Demo: writes a small anemoi-like store with zarr-python, reads it back with
zarr-python and with fastchunk, checks they agree, and prints both speeds.

    fastchunk demo [--dates 128] [--variables 16] [--points 40320] [--out DIR]
    python -m fastchunk.tools.demo ...   (the same)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

import fastchunk


def make_store(path: str, dates: int, variables: int, points: int) -> np.ndarray:
    import zarr

    rng = np.random.default_rng(0)
    grid = np.linspace(0, 4 * np.pi, points, dtype=np.float32)
    data = np.empty((dates, variables, 1, points), dtype=np.float32)
    for d in range(dates):
        for v in range(variables):
            data[d, v, 0] = np.sin(grid * (v + 1) + d / 10) * (v + 1) + rng.normal(
                0, 0.01, points
            ).astype(np.float32)
    z = zarr.create_array(
        path,
        shape=data.shape,
        chunks=(1, variables, 1, points),
        dtype="f4",
        fill_value=np.nan,
        zarr_format=3,
        overwrite=True,
    )
    z[:] = data
    return data


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options, for `fastchunk demo` and `python -m fastchunk.tools.demo`."""
    parser.add_argument("--dates", type=int, default=128, help="dates (default 128)")
    parser.add_argument("--variables", type=int, default=16, help="variables (default 16)")
    parser.add_argument("--points", type=int, default=40320, help="grid points (default 40320)")
    parser.add_argument("--out", default=None, help="directory for the store (default: temp)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Writes the store, reads it with both readers, prints their speeds."""
    import zarr

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(args.out or tmp, "demo.zarr")
        print(f"writing {path}: {args.dates} dates x {args.variables} variables x "
              f"{args.points} points, float32, zarr v3 + zstd, one chunk per date")
        data = make_store(path, args.dates, args.variables, args.points)
        gb = data.nbytes / 1e9
        rng = np.random.default_rng(1)
        batches = [rng.choice(args.dates, 8, replace=False) for _ in range(8)]

        zarr_arr = zarr.open_array(path, mode="r")
        fc_arr = fastchunk.open_array(path)
        assert np.array_equal(fc_arr[:], data) and np.array_equal(zarr_arr[:], data)
        for b in batches:
            assert np.array_equal(fc_arr.take(b), data[b])

        print(f"threads: {fastchunk.get_num_threads()}")
        print(f"{'workload':<26}{'zarr-python':>14}{'fastchunk':>14}{'speed-up':>10}")
        for name, fz, ff, nbytes in [
            ("full read", lambda: zarr_arr[:], lambda: fc_arr[:], data.nbytes),
            (
                "shuffled batches of 8",
                lambda: [zarr_arr.get_orthogonal_selection((np.sort(b),)) for b in batches],
                lambda: [fc_arr.take(b) for b in batches],
                sum(data[b].nbytes for b in batches),
            ),
        ]:
            tz, tf = _best(fz), _best(ff)
            print(f"{name:<26}{nbytes / 1e9 / tz:>10.2f} GB/s{nbytes / 1e9 / tf:>10.2f} GB/s"
                  f"{tz / tf:>9.1f}x")
        print(f"read {gb:.2f} GB; results identical to what was written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
