"""Runs under anemoi-training's environment (.venv-anemoi, with fastchunk on
PYTHONPATH), as a subprocess of tests/test_anemoi_training.py:

  python -m tests.anemoi_training_compare CASES OUT

For every case of CASES (JSON: a list of {"id", "readers", "task", "dataloader",
"stage", "epochs", "groups", "refuse"}), builds anemoi-training's real
AnemoiDatasetsDataModule twice, once as it comes (its DataLoader with worker
processes) and once with fastchunk.anemoi.training.use_fastchunk, and
compares the batches of every epoch and reader-group setting: keys, shapes,
dtypes, values (NaN-aware, bitwise) and order. OUT (JSON) gets, per case,
{"ok": true, "batches": n, "shapes": ...} or {"error": message}; a case with
"refuse" expects UnsupportedError and reports its message."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from typing import Any

import numpy as np


def _config(case: dict[str, Any]) -> Any:
    from omegaconf import OmegaConf

    loader = {
        "prefetch_factor": 2,
        "pin_memory": False,
        "persistent_workers": True,
        "read_group_size": 1,
        "num_workers": {"training": 2, "validation": 2, "test": 2},
        "batch_size": {"training": 2, "validation": 3, "test": 3},
        "limit_batches": {"training": None, "validation": None, "test": None},
    }
    loader.update(case.get("dataloader", {}))
    for stage in ("training", "validation", "test"):
        loader[stage] = {"datasets": case["readers"][stage]}
    data = {"format": "zarr", "frequency": "6h", "datasets": {}}
    return OmegaConf.create({"dataloader": loader, "data": data})


def _task(case: dict[str, Any]) -> Any:
    from anemoi.training.tasks import Forecaster

    spec = {"multistep_input": 2, "multistep_output": 1, "timestep": "6h"}
    spec.update(case.get("task", {}))
    return Forecaster(**spec)


def _datamodule(case: dict[str, Any], fast: bool) -> Any:
    from anemoi.training.data.datamodule import AnemoiDatasetsDataModule

    dm = AnemoiDatasetsDataModule(_config(case), _task(case))
    if fast:
        from fastchunk.anemoi.training import check, use_fastchunk

        use_fastchunk(dm, num_threads=2)
        check(dm, (case.get("stage", "training"),))
    return dm


def _batches(loader: Any) -> list[dict[str, np.ndarray]]:
    return [{k: v.numpy().copy() for k, v in b.items()} for b in loader]


def _epochs(case: dict[str, Any], fast: bool) -> list[list[dict[str, np.ndarray]]]:
    """Every epoch's batches under every reader-group setting, as a trainer
    would go: set_comm_group_info on the dataloader's dataset, iterate, then
    the task's and the datamodule's end-of-epoch hooks."""
    dm = _datamodule(case, fast)
    stage = case.get("stage", "training")
    method = {"training": "train_dataloader", "validation": "val_dataloader",
              "test": "test_dataloader"}[stage]  # fmt: skip
    out = []
    for group in case.get("groups", [None]):
        loader = getattr(dm, method)()
        if group is not None:
            from anemoi.models.distributed.balanced_partition import get_balanced_partition_sizes

            size = group["reader_group_size"]
            shards = {
                name: get_balanced_partition_sizes(r.grid_size, size)
                for name, r in loader.dataset.data_readers.items()
            }
            loader.dataset.set_comm_group_info(
                0, group["model_comm_group_id"], 0, group["model_comm_num_groups"],
                group["reader_group_rank"], size, shards,
            )  # fmt: skip
        for epoch in range(case.get("epochs", 1)):
            out.append(_batches(loader))
            if stage == "training":
                dm.task.on_train_epoch_end(current_epoch=epoch)
                dm.set_epoch(epoch + 1)
    return out


def _compare(stock: list[Any], fast: list[Any]) -> dict[str, Any]:
    if len(stock) != len(fast):
        raise AssertionError(f"{len(fast)} passes, stock {len(stock)}")
    shapes = []
    for p, (a, b) in enumerate(zip(stock, fast, strict=True)):
        if len(a) != len(b):
            raise AssertionError(f"pass {p}: {len(b)} batches, stock {len(a)}")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if list(x) != list(y):
                raise AssertionError(f"pass {p} batch {i}: keys {list(y)}, stock {list(x)}")
            for k in x:
                if x[k].shape != y[k].shape or x[k].dtype != y[k].dtype:
                    raise AssertionError(
                        f"pass {p} batch {i} {k}: {y[k].dtype}{y[k].shape}, "
                        f"stock {x[k].dtype}{x[k].shape}"
                    )
                if not np.array_equal(x[k], y[k], equal_nan=True):
                    raise AssertionError(f"pass {p} batch {i} {k}: other values")
        shapes.append([{k: list(v.shape) for k, v in batch.items()} for batch in a])
    return {"ok": True, "passes": len(stock), "batches": sum(len(a) for a in stock),
            "shapes": shapes}  # fmt: skip


def run(case: dict[str, Any]) -> dict[str, Any]:
    from fastchunk.errors import UnsupportedError

    if case.get("refuse"):
        try:
            _epochs(case, fast=True)
        except UnsupportedError as e:
            return {"refused": str(e)}
        return {"error": "not refused"}
    stock = _epochs(case, fast=False)
    fast = _epochs(case, fast=True)
    result = _compare(stock, fast)
    dm = _datamodule(case, fast=True)
    stage = case.get("stage", "training")
    loader = {"training": dm.train_dataloader, "validation": dm.val_dataloader,
              "test": dm.test_dataloader}[stage]()  # fmt: skip
    result["loader"] = type(loader).__name__
    first, second = (stock + [[], []])[:2]
    result["orders_differ"] = len(first) != len(second) or any(
        not np.array_equal(x[k], y[k], equal_nan=True)
        for x, y in zip(first, second, strict=False)
        for k in x
    )
    return result


def main() -> None:
    logging.disable(logging.WARNING)
    os.environ.setdefault("ANEMOI_BASE_SEED", "1234")
    cases = json.loads(open(sys.argv[1]).read())
    results = {}
    for case in cases:
        try:
            results[case["id"]] = run(case)
        except Exception as e:  # noqa: BLE001 - reported to the test
            results[case["id"]] = {
                "error": f"{type(e).__name__}: {e}",
                "trace": traceback.format_exc()[-3000:],
            }
    with open(sys.argv[2], "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
