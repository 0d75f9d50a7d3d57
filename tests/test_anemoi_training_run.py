"""The real `anemoi-training train` command, a few CPU steps of a tiny GNN on
a dataset made by `anemoi-datasets create`, with fastchunk's callback in its
config's diagnostics.callbacks, against the same run without it: the same
weights after the same steps, bit for bit (tests/anemoi_training_run.py, in
.venv-anemoi-train: anemoi-training imports timm, which needs torchvision)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import fastchunk
from tests.anemoi_support import anemoi_python, anemoi_train_python, build_datasets

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    python = anemoi_train_python()
    anemoi_python()
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    work = tmp_path_factory.mktemp("anemoi_training_run")
    path = work / "path"
    path.mkdir()
    (path / "fastchunk").symlink_to(Path(fastchunk.__file__).parent)  # the tree under test
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = f"{path}{os.pathsep}{ROOT}"
    out = work / "result.json"
    done = subprocess.run(
        [python, "-m", "tests.anemoi_training_run", paths["base"], str(work / "runs"), str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"anemoi_training_run failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text())


def test_anemoi_training_train_runs_with_the_callback_in_its_config(runs) -> None:
    fast = runs["fast"]
    assert fast["rc"] == 0, fast["log_tail"]
    assert fast["checkpoint"], fast["log_tail"]
    served = " | ".join(fast["served"])
    assert "serves the training dataloader" in served, fast["log_tail"]
    assert "serves the validation dataloader" in served, fast["log_tail"]
    assert runs["stock"]["rc"] == 0, runs["stock"]["log_tail"]
    assert runs["stock"]["served"] == []


def test_the_same_weights_as_the_stock_loader_after_the_same_steps(runs) -> None:
    assert runs["steps"] == [6, 6]
    assert runs["trained_after_first_epoch"]
    assert runs["same_weights"], runs["differ"]
    assert runs["same_dataset_metadata"]
