"""Processes for the shared-cache tests (tests/test_shared_cache.py).

    python cache_worker.py churn STORE EXPECTED.npy WORKDIR SEED
        reads random selections through the shared cache named by
        FASTCHUNK_SHARED_CACHE until WORKDIR/stop exists, checks every result
        against EXPECTED.npy, and counts its reads in WORKDIR/beat.<pid>.
        Exit 0: all correct; 3: a wrong value (WORKDIR/wrong.<pid> says where).

    python cache_worker.py rank STORE OUT_DIR
        (under torchrun) rank r of w reads its 1/w of the grid for the same
        shuffled dates as every other rank, after a barrier, and saves it.

read_quarter() is also the multiprocessing workers' function.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import numpy as np

SEED = 7


def dates(n: int) -> np.ndarray:
    """The shuffled dates every process reads, in the same order."""
    return np.random.default_rng(SEED).permutation(n)


def grid_part(npoints: int, part: int, parts: int) -> slice:
    step = npoints // parts
    return slice(part * step, npoints if part == parts - 1 else (part + 1) * step)


def read_quarter(store: Any, part: int, parts: int, barrier: Any = None) -> dict[str, Any]:
    """Reads this part of the grid for every date, like one rank of a model
    split over `parts` GPUs. `store`: a path, or an Array (pickled to us)."""
    import fastchunk

    fastchunk.set_num_threads(2)
    a = fastchunk.open_array(store) if isinstance(store, str) else store
    if barrier is not None:
        barrier.wait()
    idx = dates(a.shape[0])
    out = a[idx, ..., grid_part(a.shape[-1], part, parts)]
    return {"data": out, "shared": fastchunk.get_cache_info()["shared"], "pid": os.getpid()}


def churn(store: str, expected_path: str, workdir: str, seed: int) -> int:
    import fastchunk

    fastchunk.set_num_threads(2)
    expected = np.load(expected_path)
    a = fastchunk.open_array(store)
    rng = np.random.default_rng(seed)
    beat = os.path.join(workdir, f"beat.{os.getpid()}")
    n = 0
    while not os.path.exists(os.path.join(workdir, "stop")):
        rows = rng.integers(0, a.shape[0], size=int(rng.integers(1, 6)))
        lo = int(rng.integers(0, a.shape[-1] // 2))
        sel = (rows, ..., slice(lo, lo + int(rng.integers(1, a.shape[-1] - lo))))
        got = a[sel]
        if not np.array_equal(got, expected[sel]):
            with open(os.path.join(workdir, f"wrong.{os.getpid()}"), "w") as f:
                f.write(f"rows {rows.tolist()} columns from {lo}")
            return 3
        n += 1
        with open(beat + ".tmp", "w") as f:
            f.write(str(n))
        os.replace(beat + ".tmp", beat)
    return 0


def rank(store: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo")
    r, w = dist.get_rank(), dist.get_world_size()

    class Barrier:
        def wait(self) -> None:
            dist.barrier()

    result = read_quarter(store, r, w, Barrier())
    np.save(os.path.join(out_dir, f"rank{r}.npy"), result["data"])
    with open(os.path.join(out_dir, f"rank{r}.shared"), "w") as f:
        f.write(str(result["shared"]))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    if sys.argv[1] == "churn":
        sys.exit(churn(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])))
    if sys.argv[1] == "rank":
        rank(sys.argv[2], sys.argv[3])
        sys.exit(0)
    if sys.argv[1] == "sleep":
        time.sleep(3600)
    sys.exit(f"unknown command {sys.argv[1:]}")
