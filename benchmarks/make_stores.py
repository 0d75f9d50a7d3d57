"""Writes the anemoi-like benchmark stores with zarr-python.

float32 (dates, variables, 1, gridpoints), one chunk per date. Each variable is
a smooth field on an octahedral-like grid (rings of longitudes, as in anemoi's
o96) with a daily and a slow cycle, plus a little noise, so the compression
ratios are those of real reanalysis fields rather than of random bytes.

    python benchmarks/make_stores.py                 # 512 x 16 x 40320, ~1.3 GB each
    python benchmarks/make_stores.py --quick         # a small set for a smoke run
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    DEFAULT_DATES,
    DEFAULT_POINTS,
    DEFAULT_VARIABLES,
    ENCODINGS,
    QUICK_DATES,
    QUICK_POINTS,
    QUICK_VARIABLES,
    SHARD_DATES,
    StoreSize,
    store_is_complete,
    store_path,
)

WRITE_DATES = 32  # dates generated and written per step


def octahedral_grid(points: int) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (radians) of `points` points laid out ring by
    ring like an octahedral reduced Gaussian grid (ring i of a hemisphere has
    4i + 16 points), truncated to `points`."""
    n = 1
    while 2 * (2 * n * (n + 1) + 16 * n) < points:
        n += 1
    counts = [4 * i + 16 for i in range(1, n + 1)]
    counts = counts + counts[::-1]
    lats = np.linspace(np.pi / 2, -np.pi / 2, len(counts) + 2)[1:-1]
    lat = np.concatenate([np.full(c, la) for c, la in zip(counts, lats, strict=True)])
    lon = np.concatenate([np.arange(c) * (2 * np.pi / c) for c in counts])
    return lat[:points], lon[:points]


class FieldMaker:
    """Produces dates of the synthetic data set, deterministically."""

    def __init__(self, size: StoreSize, seed: int = 3) -> None:
        rng = np.random.default_rng(seed)
        lat, lon = octahedral_grid(size.points)
        v = size.variables
        self.size = size
        self.rng = np.random.default_rng(seed + 1)
        # physical-looking scales: temperatures, winds, pressure, humidity, ...
        self.offset = rng.choice([280.0, 0.0, 101325.0, 5.0e-3, 1.0e3], size=v)
        self.scale = np.where(
            self.offset == 101325.0, 1500.0, np.where(self.offset == 5.0e-3, 4.0e-3, 20.0)
        )
        self.scale = self.scale * rng.uniform(0.5, 1.5, size=v)
        self.base = np.empty((v, size.points), dtype=np.float64)
        self.daily = np.empty((v, size.points), dtype=np.float64)
        self.slow = np.empty((v, size.points), dtype=np.float64)
        for i in range(v):
            self.base[i] = self._smooth(rng, lat, lon, 6)
            self.daily[i] = 0.2 * self._smooth(rng, lat, lon, 3)
            self.slow[i] = 0.3 * self._smooth(rng, lat, lon, 4)
        # noise of the order of what float32 reanalysis fields carry
        self.noise = 2.0e-3

    @staticmethod
    def _smooth(
        rng: np.random.Generator, lat: np.ndarray, lon: np.ndarray, waves: int
    ) -> np.ndarray:
        f = np.cos(lat) * rng.normal()
        for m in range(1, waves + 1):
            for k in range(1, 3):
                amp = rng.normal() / (m + k)
                f += (
                    amp
                    * np.cos(m * lon + rng.uniform(0, 2 * np.pi))
                    * np.sin(k * lat + rng.uniform(0, 2 * np.pi))
                )
        return f / max(1e-9, np.abs(f).max())

    def dates(self, start: int, stop: int) -> np.ndarray:
        t = np.arange(start, stop, dtype=np.float64)[:, None, None]
        day = 2 * np.pi * t / 4.0  # 6-hourly data: 4 dates a day
        year = 2 * np.pi * t / 1460.0
        f = self.base[None] + np.sin(day) * self.daily[None] + np.sin(year) * self.slow[None]
        f += self.rng.standard_normal(f.shape) * self.noise
        f = self.offset[None, :, None] + self.scale[None, :, None] * f
        return f.astype(np.float32)[:, :, None, :]


def create(encoding: str, path: Path, size: StoreSize):  # type: ignore[no-untyped-def]
    import numcodecs
    import zarr
    from zarr.codecs import ZstdCodec

    common = dict(shape=size.shape, dtype="float32", fill_value=np.nan, overwrite=True)
    chunk = (1, size.variables, 1, size.points)
    if encoding == "zstd":
        return zarr.create_array(str(path), chunks=chunk, compressors=ZstdCodec(level=3), **common)
    if encoding == "blosc":
        blosc = numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE)
        return zarr.create_array(
            str(path), chunks=chunk, compressors=blosc, zarr_format=2, **common
        )
    if encoding == "sharded":
        return zarr.create_array(
            str(path),
            chunks=chunk,
            shards=(SHARD_DATES, size.variables, 1, size.points),
            compressors=ZstdCodec(level=3),
            **common,
        )
    raise ValueError(f"unknown encoding {encoding!r}")


def write_store(encoding: str, size: StoreSize, force: bool = False) -> Path:
    """Writes the store unless a complete one of that shape exists."""
    path = store_path(encoding, size)
    if not force and store_is_complete(path, size):
        return path
    if path.exists():
        shutil.rmtree(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    arr = create(encoding, path, size)
    maker = FieldMaker(size)
    step = max(WRITE_DATES, SHARD_DATES)
    for start in range(0, size.dates, step):
        stop = min(size.dates, start + step)
        arr[start:stop] = maker.dates(start, stop)
    arr.attrs["complete"] = True
    stored = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    print(
        f"wrote {path.name}: {size.nbytes / 1e9:.2f} GB decoded, {stored / 1e9:.2f} GB stored "
        f"(ratio {size.nbytes / stored:.2f}) in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    return path


def parse_size(args: argparse.Namespace) -> StoreSize:
    if args.quick:
        return StoreSize(
            args.dates or QUICK_DATES,
            args.variables or QUICK_VARIABLES,
            args.points or QUICK_POINTS,
        )
    return StoreSize(
        args.dates or DEFAULT_DATES,
        args.variables or DEFAULT_VARIABLES,
        args.points or DEFAULT_POINTS,
    )


def add_size_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dates", type=int, default=None, help=f"default {DEFAULT_DATES}")
    p.add_argument("--variables", type=int, default=None, help=f"default {DEFAULT_VARIABLES}")
    p.add_argument("--points", type=int, default=None, help=f"default {DEFAULT_POINTS}")
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"small store ({QUICK_DATES} x {QUICK_VARIABLES} x {QUICK_POINTS}) for a smoke run",
    )


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_size_args(p)
    p.add_argument("--encodings", default=",".join(ENCODINGS), help="comma-separated subset")
    p.add_argument("--force", action="store_true", help="rewrite stores that exist")
    args = p.parse_args()
    size = parse_size(args)
    for enc in args.encodings.split(","):
        path = write_store(enc, size, force=args.force)
        print(f"{enc:8s} {path}")


if __name__ == "__main__":
    main()
