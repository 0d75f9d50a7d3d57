"""The anemoi way, run by bench_anemoi.py in anemoi-datasets' environment
(.venv-anemoi, zarr 2): anemoi.datasets.open_dataset, a torch Dataset that
reads windows of dates the way anemoi-training's NativeGridDataset does
(a slice of consecutive dates, rearranged to (dates, ensembles, gridpoints,
variables)), normalized with the dataset's statistics, and a DataLoader.

    python anemoi_side.py JOB.json     # prints one JSON line of timings
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from typing import Any

import numpy as np
import torch


class AnemoiWindows(torch.utils.data.Dataset):
    """Sample k: dates anchors[k] + offsets (consecutive), normalized, in
    anemoi-training's order. The dataset opens lazily in each worker."""

    def __init__(self, path: str, options: dict[str, Any], anchors: list[int], lo: int, hi: int):
        self.path, self.options, self.anchors = path, options, anchors
        self.lo, self.hi = lo, hi
        self.ds: Any = None

    def _open(self) -> Any:
        if self.ds is None:
            from anemoi.datasets import open_dataset

            self.ds = open_dataset(self.path, **self.options)
            stats = self.ds.statistics
            self.mean = stats["mean"].astype("f4")[None, :, None, None]
            self.std = stats["stdev"].astype("f4")[None, :, None, None]
        return self.ds

    def __len__(self) -> int:
        return len(self.anchors)

    def __getitem__(self, k: int) -> torch.Tensor:
        ds = self._open()
        a = self.anchors[k]
        x = ds[a + self.lo : a + self.hi + 1]  # (dates, variables, ensembles, gridpoints)
        x = (x - self.mean) / self.std
        return torch.from_numpy(x.transpose(0, 2, 3, 1))  # anemoi-training's rearrange


def loader_rate(job: dict[str, Any], workers: int) -> dict[str, Any]:
    ds = AnemoiWindows(job["path"], job["options"], job["anchors"], job["lo"], job["hi"])
    order = job["order"]
    dl = torch.utils.data.DataLoader(
        ds, batch_size=job["batch_size"], sampler=order, num_workers=workers,
        persistent_workers=False,
    )  # fmt: skip
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    n = 0
    checksum = 0.0
    for batch in dl:
        n += batch.shape[0]
        checksum += float(batch[:, :, :, :1, :].double().nansum())
    seconds = time.perf_counter() - t0
    del dl  # workers joined: their CPU time is counted
    return {"samples": n, "seconds": seconds, "cpu": cpu_seconds() - cpu0, "checksum": checksum}


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def single_dates(job: dict[str, Any]) -> dict[str, Any]:
    from anemoi.datasets import open_dataset

    ds = open_dataset(job["path"], **job["options"])
    times = []
    total = 0.0
    for i in job["singles"]:
        t0 = time.perf_counter()
        x = ds[i]
        times.append(time.perf_counter() - t0)
        total += float(np.nansum(x[:, :, :1], dtype=np.float64))
    return {"calls": len(times), "seconds": sum(times), "median": float(np.median(times)),
            "checksum": total}  # fmt: skip


def main() -> None:
    logging.disable(logging.WARNING)
    job = json.loads(open(sys.argv[1]).read())
    torch.set_num_threads(1)
    out: dict[str, Any] = {}
    for workers in job["workers"]:
        out[f"loader_{workers}"] = loader_rate(job, workers)
    out["single"] = single_dates(job)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
