"""Loader under torchrun with two ranks (gloo): disjoint, complete, balanced."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

pytest.importorskip("torch")

DATES = 37  # not a multiple of ranks * batch: exercises the uneven tail


def test_torchrun_two_ranks(tmp_path):
    store = tmp_path / "dates.zarr"
    data = np.repeat(np.arange(DATES, dtype="f4")[:, None], 3, axis=1)
    z = zarr.create_array(store, shape=data.shape, chunks=(2, 3), dtype="f4")
    z[:] = data
    out = tmp_path / "out"
    out.mkdir()
    torchrun = shutil.which("torchrun")
    cmd = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    worker = Path(__file__).with_name("ddp_worker.py")
    env = dict(os.environ, FASTCHUNK_NUM_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [*cmd, "--standalone", "--nproc_per_node=2", str(worker), str(store), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    assert all(r["world_size"] == 2 for r in ranks)

    for drop_last in (False, True):
        key = f"drop_last={drop_last}"
        n_batches = ranks[0][key]["len"]
        assert ranks[1][key]["len"] == n_batches
        orders = []
        for epoch in range(2):
            shares = [[d for b in r[key]["epochs"][epoch] for d in b] for r in ranks]
            assert [len(r[key]["epochs"][epoch]) for r in ranks] == [n_batches, n_batches]
            assert not set(shares[0]) & set(shares[1])  # disjoint
            assert abs(len(shares[0]) - len(shares[1])) <= 1  # balanced
            everything = shares[0] + shares[1]
            assert len(everything) == len(set(everything))
            if drop_last:
                assert all(len(b) == 4 for r in ranks for b in r[key]["epochs"][epoch])
                assert len(everything) == (DATES // 8) * 8
            else:
                assert sorted(everything) == list(range(DATES))  # complete
            orders.append(everything)
        assert orders[0] != orders[1]  # epochs reshuffle
