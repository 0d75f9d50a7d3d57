"""Runs under anemoi-training's training environment (.venv-anemoi-train:
torch 2.14.1 and torchvision 0.29.1 over .venv-anemoi's anemoi stack, see
scripts/setup.sh), with fastchunk on PYTHONPATH, as a subprocess of
tests/test_anemoi_training_run.py:

  python -m tests.anemoi_training_run DATASET WORKDIR OUT

Runs the real `anemoi-training train` command twice on DATASET with the tiny
config tests/anemoi_train/tiny.yaml (a GNN of 16 channels, 6 steps over two
epochs with validation, on CPU): once as the config is, with
`- _target_: fastchunk.anemoi.training.UseFastchunk` in its
diagnostics.callbacks, and once with no callbacks (the stock DataLoader with
worker processes). Then compares the two runs' last checkpoints: the same
weights, bit for bit, after the same steps (the model saw the same batches
in the same order), and the same dataset metadata. OUT (JSON) gets the
result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).resolve().parent / "anemoi_train" / "tiny.yaml"
SERVED = "fastchunk serves the "


def _train(dataset: str, work: Path, fast: bool) -> dict[str, Any]:
    """One `anemoi-training train` run in its own folder (hydra writes there)."""
    work.mkdir(parents=True)
    shutil.copy(CONFIG, work / "tiny.yaml")
    cmd = [
        sys.executable, "-m", "anemoi.training", "train", "--config-name=tiny",
        f"system.input.dataset={dataset}", f"system.output.root={work / 'out'}",
        f"hydra.run.dir={work / 'hydra'}",
    ]  # fmt: skip
    if not fast:
        cmd.append("diagnostics.callbacks=[]")
    env = dict(os.environ, ANEMOI_BASE_SEED="1234", OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - t0
    log = done.stdout + done.stderr
    (work / "log.txt").write_text(log)
    checkpoints = sorted((work / "out").glob("checkpoint/*/last.ckpt"))
    return {
        "rc": done.returncode,
        "seconds": round(seconds, 1),
        "served": [line[line.index(SERVED) :] for line in log.splitlines() if SERVED in line],
        "checkpoint": str(checkpoints[0]) if checkpoints else None,
        "log_tail": log[-3000:],
    }


def _compare(fast: str, stock: str) -> dict[str, Any]:
    import torch
    from anemoi.utils.checkpoints import load_metadata

    a = torch.load(fast, map_location="cpu", weights_only=False)
    b = torch.load(stock, map_location="cpu", weights_only=False)
    wa, wb = a["state_dict"], b["state_dict"]
    differ = sorted(k for k in wa if k not in wb or not torch.equal(wa[k], wb[k]))
    first = sorted(Path(fast).parent.glob("anemoi-by_epoch-epoch_000-*.ckpt"))
    trained = None
    if first:
        w0 = torch.load(first[0], map_location="cpu", weights_only=False)["state_dict"]
        trained = any(not torch.equal(w0[k], wa[k]) for k in wa)
    ma, mb = load_metadata(fast), load_metadata(stock)
    return {
        "tensors": len(wa),
        "differ": differ[:10] + (["..."] if len(differ) > 10 else []),
        "same_weights": not differ and set(wa) == set(wb),
        "trained_after_first_epoch": trained,
        "steps": [a["global_step"], b["global_step"]],
        "same_dataset_metadata": ma["dataset"] == mb["dataset"],
        "dataset_metadata": ma["dataset"],
    }


def main() -> None:
    dataset, work, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    result: dict[str, Any] = {
        "fast": _train(dataset, work / "fastchunk", fast=True),
        "stock": _train(dataset, work / "stock", fast=False),
    }
    if result["fast"]["checkpoint"] and result["stock"]["checkpoint"]:
        result.update(_compare(result["fast"]["checkpoint"], result["stock"]["checkpoint"]))
    out.write_text(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
