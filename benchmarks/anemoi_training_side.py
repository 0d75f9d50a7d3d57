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
    """Peak of the RSS and PSS summed over this process and its children, and
    of the PSS of anonymous and shared memory alone (Pss_Anon + Pss_Shmem:
    without the pages of mapped files, which the kernel can drop and which a
    loader reading through mappings shows in its PSS where one reading with
    read() shows them nowhere). Sampled every 100 ms from each process's
    smaps_rollup, read once a sample: the kernel walks every mapping to
    write it, a cost taken from the cores the loaders share (every 20 ms it
    took a large part of one of this machine's two cores)."""

    def __init__(self) -> None:
        self.rss = self.pss = self.anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.1):
            rss = pss = anon = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    got = _rollup(p.pid)
                except OSError:
                    continue
                rss += got["Rss"]
                pss += got["Pss"]
                anon += got["Pss_Anon"] + got["Pss_Shmem"]
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)
            self.anon = max(self.anon, anon)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _rollup(pid: int) -> dict[str, int]:
    """Rss, Pss, Pss_Anon and Pss_Shmem of a process, in bytes."""
    out = {"Rss": 0, "Pss": 0, "Pss_Anon": 0, "Pss_Shmem": 0}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name = line.split(":", 1)[0]
            if name in out:
                out[name] = int(line.split()[1]) * 1024
    return out


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
        "peak_anon": memory.anon,
        "checksum": checksum, "loader": type(loader).__name__, "pid": os.getpid(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
