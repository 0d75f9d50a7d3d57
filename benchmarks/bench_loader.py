"""Samples per second delivered to a training loop: fastchunk.torch.Loader
against torch DataLoader over a zarr-python Dataset and a tensorstore Dataset.

The store is the benchmark store (float32 (dates, 16, 1, 40320), one chunk per
date), zarr v3 zstd and v2 blosc lz4; it is written with make_stores.py when
missing. Every reader delivers the same shuffled batches of `--batch-size`
dates to the same dummy step (it touches the batch and sleeps `--step-ms`,
standing in for a GPU step that leaves the CPU free), after a warm-up pass that puts
the store in the page cache: the numbers are decode + assembly, not disk.

    python benchmarks/bench_loader.py                    # 512 dates, ~3 minutes
    python benchmarks/bench_loader.py --dates 64 --batches 6   # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_POINTS, DEFAULT_VARIABLES, StoreSize, store_path  # noqa: E402

import fastchunk  # noqa: E402
from fastchunk.torch import ArrayDataset, Loader  # noqa: E402


class ZarrDataset(torch.utils.data.Dataset):
    """What users write today: one zarr-python read per sample."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.a: Any = None
        import zarr

        self.n = zarr.open_array(path, mode="r").shape[0]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if self.a is None:
            import zarr

            self.a = zarr.open_array(self.path, mode="r")
        return torch.from_numpy(self.a[i])


class TensorstoreDataset(torch.utils.data.Dataset):
    """One tensorstore read per sample; opened lazily in each worker (a
    tensorstore opened before fork does not survive in the child)."""

    def __init__(self, path: str, driver: str) -> None:
        self.path, self.driver = path, driver
        self.a: Any = None
        import zarr  # the length, without starting tensorstore in the parent

        self.n = zarr.open_array(path, mode="r").shape[0]

    def _open(self) -> Any:
        import tensorstore as ts

        spec = {"driver": self.driver, "kvstore": {"driver": "file", "path": self.path}}
        return ts.open(spec, read=True).result()

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        if self.a is None:
            self.a = self._open()
        return torch.from_numpy(self.a[i].read().result())


def dummy_step(batch: torch.Tensor, step_s: float) -> float:
    """Touches the batch; the model's compute would run on the GPU, so the
    CPU side of a step is small: `step_s` of sleep stands in for it."""
    value = float(batch[:, 0].reshape(batch.shape[0], -1)[:, :64].float().sum())
    if step_s:
        time.sleep(step_s)
    return value


def measure(batches: Iterable[torch.Tensor], n_batches: int, warmup: int, step_s: float) -> float:
    """Samples per second over n_batches after `warmup` batches."""
    it = iter(batches)
    for _ in range(warmup):
        dummy_step(next(it), step_s)
    samples = 0
    t0 = time.perf_counter()
    for _ in range(n_batches):
        batch = next(it)
        samples += batch.shape[0]
        dummy_step(batch, step_s)
    elapsed = time.perf_counter() - t0
    del it
    return samples / elapsed


def warm_page_cache(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                while f.read(1 << 24):
                    pass


def dataloader(ds: torch.utils.data.Dataset, batch: int, workers: int) -> Any:
    return torch.utils.data.DataLoader(
        ds,
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        drop_last=True,
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        # tensorstore aborts any fork once it ran in the process: workers start
        # from a clean forkserver for every reader alike
        multiprocessing_context="forkserver" if workers > 0 else None,
    )


Setup = tuple[str, Callable[[], Any], bool]  # name, make the batch iterable, is a baseline


def make_setups(path: str, driver: str, batch: int, variables: int) -> list[Setup]:
    setups: list[Setup] = []
    for w in (0, 2):
        setups.append(
            (
                f"DataLoader(zarr-python, workers={w})",
                lambda w=w: dataloader(ZarrDataset(path), batch, w),
                True,
            )
        )
        setups.append(
            (
                f"DataLoader(tensorstore, workers={w})",
                lambda w=w: dataloader(TensorstoreDataset(path, driver), batch, w),
                True,
            )
        )
    setups.append(
        (
            "DataLoader(fastchunk ArrayDataset, workers=2)",
            lambda: dataloader(ArrayDataset(path), batch, 2),
            False,
        )
    )
    setups.append(("fastchunk Loader", lambda: Loader(path, batch, seed=0), False))
    mean_std = (np.zeros(variables), np.ones(variables))
    setups.append(
        (
            "fastchunk Loader + normalize, bfloat16",
            lambda: Loader(path, batch, seed=0, normalize=mean_std, dtype=torch.bfloat16),
            False,
        )
    )
    return setups


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--dates", type=int, default=512)
    p.add_argument("--variables", type=int, default=DEFAULT_VARIABLES)
    p.add_argument("--points", type=int, default=DEFAULT_POINTS)
    p.add_argument("--encodings", default="zstd,blosc")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--batches", type=int, default=30, help="timed batches per reader")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--step-ms", type=float, default=0.0, help="sleep in the dummy step")
    p.add_argument("--threads", type=int, default=0, help="fastchunk threads (0: all cores)")
    p.add_argument("--repeat", type=int, default=3, help="runs per reader; the best is kept")
    args = p.parse_args()

    size = StoreSize(args.dates, args.variables, args.points)
    fastchunk.set_num_threads(args.threads)
    step_s = args.step_ms / 1000
    needed = (args.batches + args.warmup) * args.batch_size
    if needed > args.dates:
        p.error(f"--batches + --warmup need {needed} dates, the store has {args.dates}")
    print(
        f"# cores {os.cpu_count()}, fastchunk threads {fastchunk.get_num_threads()}, "
        f"torch {torch.__version__}, cuda {torch.cuda.is_available()}, "
        f"batch {args.batch_size}, {args.batches} timed batches, step {args.step_ms} ms"
    )
    print(f"{'store':28s} {'reader':44s} {'samples/s':>10s} {'MB/s':>8s} {'vs best DL':>10s}")
    sample_mb = size.chunk_bytes / 1e6
    for enc in args.encodings.split(","):
        path = store_path(enc, size)
        if not path.exists():
            from make_stores import write_store

            write_store(enc, size)
        warm_page_cache(path)
        driver = "zarr3" if enc != "blosc" else "zarr"
        setups = make_setups(str(path), driver, args.batch_size, args.variables)
        results: list[tuple[str, float, bool]] = []
        for name, make, is_baseline in setups:
            best = 0.0
            for _ in range(args.repeat):
                source = make()
                best = max(best, measure(source, args.batches, args.warmup, step_s))
                del source
            results.append((name, best, is_baseline))
        best_dl = max(r for _, r, base in results if base)
        for name, rate, _ in results:
            print(
                f"{path.name:28s} {name:44s} {rate:10.1f} {rate * sample_mb:8.0f} "
                f"{rate / best_dl:9.2f}x",
                flush=True,
            )


if __name__ == "__main__":
    main()
