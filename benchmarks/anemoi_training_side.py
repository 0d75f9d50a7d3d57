"""One measured run of anemoi-training's own train_dataloader(), in
anemoi-training's environment (.venv-anemoi, fastchunk importable), for
bench_anemoi_training.py:

  python anemoi_training_side.py JOB.json

JOB: {"path", "loader": "stock" | "fastchunk", "workers", "batch_size",
"read_group_size", "passes", "threads"}. The real AnemoiDatasetsDataModule
(a Forecaster task, multistep 2: windows of 3 dates) serves pass after
pass; the first warms up (page cache, worker start), the others are timed.
Prints one JSON line: samples/s, CPU-seconds per sample of the whole
process tree (workers included), peak RSS and PSS summed over the tree,
and a checksum of every batch of the timed passes."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from typing import Any

import psutil


def _datamodule(job: dict[str, Any]) -> Any:
    from anemoi.training.data.datamodule import AnemoiDatasetsDataModule
    from anemoi.training.tasks import Forecaster
    from omegaconf import OmegaConf

    workers = int(job["workers"])
    reader = {"dataset_config": {"dataset": job["path"]}, "start": None, "end": 2100}
    config = OmegaConf.create({
        "dataloader": {
            "prefetch_factor": 2, "pin_memory": True, "persistent_workers": True,
            "read_group_size": job["read_group_size"],
            "num_workers": {"training": workers, "validation": workers, "test": workers},
            "batch_size": {"training": job["batch_size"], "validation": job["batch_size"],
                           "test": job["batch_size"]},
            "training": {"datasets": {"data": reader}},
            "validation": {"datasets": {"data": reader}},
            "test": {"datasets": {"data": reader}},
        },
        "data": {"format": "zarr", "frequency": "6h", "datasets": {}},
    })  # fmt: skip
    task = Forecaster(multistep_input=2, multistep_output=1, timestep="6h")
    dm = AnemoiDatasetsDataModule(config, task)
    if job["loader"] == "fastchunk":
        from fastchunk.anemoi.training import check, use_fastchunk

        use_fastchunk(dm, num_threads=job.get("threads") or None)
        check(dm, ("training",))
    return dm


class TreeMemory:
    """Peak of the RSS and PSS summed over this process and its children,
    sampled every 20 ms."""

    def __init__(self) -> None:
        self.rss = self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.02):
            rss = pss = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    full = p.memory_full_info()
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                rss += full.rss
                pss += full.pss
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def tree_cpu() -> float:
    """CPU seconds of this process, its live children and its reaped ones."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:4])
    for p in me.children(recursive=True):
        try:
            total += sum(p.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> None:
    logging.disable(logging.WARNING)
    job = json.loads(open(sys.argv[1]).read())
    memory = TreeMemory()
    dm = _datamodule(job)
    loader = dm.train_dataloader()
    if job["read_group_size"] > 1:
        from anemoi.models.distributed.balanced_partition import get_balanced_partition_sizes

        size = int(job["read_group_size"])
        grid = loader.dataset.data_readers["data"].grid_size
        loader.dataset.set_comm_group_info(
            0, 0, 0, 1, 0, size, {"data": get_balanced_partition_sizes(grid, size)}
        )
    for _ in loader:  # warm-up pass: page cache, workers started
        pass
    samples, checksum = 0, 0.0
    cpu0, t0 = tree_cpu(), time.perf_counter()
    for _ in range(int(job["passes"])):
        for batch in loader:
            x = batch["data"]
            samples += x.shape[0]
            checksum += float(x[:, :, :, :64, :].double().sum())
    seconds = time.perf_counter() - t0
    cpu = tree_cpu() - cpu0
    memory.stop()
    print(json.dumps({
        "samples": samples, "seconds": seconds, "samples_per_s": samples / seconds,
        "cpu_per_sample": cpu / samples, "peak_rss": memory.rss, "peak_pss": memory.pss,
        "checksum": checksum, "loader": type(loader).__name__, "pid": os.getpid(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
