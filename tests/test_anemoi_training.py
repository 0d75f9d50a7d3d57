"""fastchunk.anemoi.training against anemoi-training's own loader: the real
AnemoiDatasetsDataModule (anemoi-training 0.17, in .venv-anemoi) over
datasets made by `anemoi-datasets create` (with missing dates), its stock
DataLoader with worker processes against use_fastchunk, batch by batch,
epoch after epoch, for reader-group ranks and grid shards, rollout changes,
joins, a cutout and several datasets; and what fastchunk refuses."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import fastchunk
from tests.anemoi_support import anemoi_python, build_datasets

ROOT = Path(__file__).resolve().parent.parent


def _readers(train: Any, other: Any = None, end: str = "2020-01-03T18:00:00") -> dict[str, Any]:
    """Reader configs of the three stages: training up to `end`, validation
    and test from there."""

    def reader(dataset: Any, start: Any, stop: Any) -> dict[str, Any]:
        return {"dataset_config": dataset, "start": start, "end": stop}

    def stage(start: Any, stop: Any) -> dict[str, Any]:
        out = {"data": reader(train, start, stop)}
        if other is not None:
            out["other"] = reader(other, start, stop)
        return out

    return {"training": stage(None, end), "validation": stage("2020-01-03", None),
            "test": stage("2020-01-03", None)}  # fmt: skip


def _cases(p: dict[str, str]) -> list[dict[str, Any]]:
    base = {"dataset": p["base"]}
    groups = [
        {"model_comm_group_id": g, "model_comm_num_groups": 2, "reader_group_rank": r,
         "reader_group_size": 4}
        for g, r in ((0, 0), (1, 3), (0, 2))
    ]  # fmt: skip
    return [
        # persistent workers (the default): pass k draws the k-th permutation
        {"id": "plain", "epochs": 3, "readers": _readers(base)},
        {"id": "workers3", "epochs": 2, "readers": _readers(base),
         "dataloader": {"num_workers": {"training": 3, "validation": 1, "test": 1},
                        "persistent_workers": False, "batch_size": {"training": 3,
                        "validation": 2, "test": 2}}},
        {"id": "rollout", "epochs": 3, "readers": _readers(base, end="2020-01-04T12:00:00"),
         "task": {"rollout": {"start": 1, "epoch_increment": 1, "maximum": 3}}},
        {"id": "groups", "epochs": 2, "groups": groups, "readers": _readers(base)},
        {"id": "validation", "stage": "validation", "epochs": 2, "readers": _readers(base),
         "groups": groups[1:2]},
        {"id": "join_12h", "epochs": 2, "task": {"timestep": "12h"},
         "readers": _readers({"dataset": {"join": [p["base"], p["other"]]}, "frequency": "12h",
                              "select": ["t2m", "tp", "msl", "insolation"]}, end="2020-01-04")},
        {"id": "two_datasets", "epochs": 2, "readers": _readers(base, {"dataset": p["other"]})},
        # a limited-area model's grid: the lam's points, then the global ones outside it
        {"id": "cutout", "epochs": 2, "groups": groups[:2],
         "readers": _readers({"dataset": {"cutout": [
             {"dataset": p["lam"], "select": ["t2m", "msl"]},
             {"dataset": p["base"], "select": ["t2m", "msl"]}]}})},
        {"id": "fill_missing", "epochs": 1,
         "readers": _readers({"dataset": p["base"], "fill_missing_dates": "closest"})},
        {"id": "refuse_workers0", "refuse": True, "readers": _readers(base),
         "dataloader": {"num_workers": {"training": 0, "validation": 0, "test": 0}}},
        {"id": "refuse_option", "refuse": True,
         "readers": _readers({"dataset": p["base"], "rescale": {"t2m": [1.0, -273.15]}})},
        {"id": "refuse_trajectory", "refuse": True,
         "readers": {s: {"data": {**r["data"], "trajectory": {}}}
                     for s, r in _readers(base).items()}},
    ]  # fmt: skip


def _run_side(module: str, args: list[str], work: Path) -> None:
    """`python -m tests.<module> ARGS` in anemoi-training's environment, with
    fastchunk as this test imports it (the tree under test) alone on the path."""
    path = work / "path"
    if not path.exists():
        path.mkdir()
        (path / "fastchunk").symlink_to(Path(fastchunk.__file__).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = f"{path}{os.pathsep}{ROOT}"
    env["ANEMOI_BASE_SEED"] = "1234"
    done = subprocess.run(
        [anemoi_python(), "-m", f"tests.{module}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{module} failed:\n{done.stderr[-4000:]}")


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    anemoi_python()
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    work = tmp_path_factory.mktemp("anemoi_training")
    cases, out = work / "cases.json", work / "out.json"
    cases.write_text(json.dumps(_cases(paths)))
    _run_side("anemoi_training_compare", [str(cases), str(out)], work)
    return json.loads(out.read_text())


SAME = ["plain", "workers3", "rollout", "groups", "validation", "join_12h", "two_datasets",
        "cutout", "fill_missing"]  # fmt: skip


@pytest.mark.parametrize("case", SAME)
def test_same_batches_in_the_same_order_as_the_stock_loader(compared, case) -> None:
    result = compared[case]
    assert "error" not in result, result.get("trace", result.get("error"))
    assert result["ok"] and result["batches"] > 0
    assert result["loader"] == "FastchunkDataLoader"
    assert result["orders_differ"] or case in ("validation", "fill_missing")


def test_what_the_cases_cover(compared) -> None:
    shapes = {k: v["shapes"] for k, v in compared.items() if v.get("ok")}
    # rollout 1, 2, 3: windows of 3, 4, 5 dates, a new loader each epoch
    windows = [{b["data"][1] for b in epoch} for epoch in shapes["rollout"]]
    assert windows == [{3}, {4}, {5}]
    # the grid shards of reader ranks 0, 3, 2 of 4 (40 points: 10 each)
    grids = {b["data"][3] for epoch in shapes["groups"] for b in epoch}
    assert grids == {10}
    assert all(set(b) == {"data", "other"} for e in shapes["two_datasets"] for b in e)


@pytest.mark.parametrize(
    ("case", "words"),
    [("refuse_workers0", "num_workers"), ("refuse_option", "rescale"),
     ("refuse_trajectory", "trajectory")],
)  # fmt: skip
def test_refuses_what_it_cannot_reproduce(compared, case, words) -> None:
    assert "refused" in compared[case], compared[case]
    assert words in compared[case]["refused"]


def test_a_lightning_fit_with_the_config_entry_sees_the_stock_batches(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A real Trainer.fit (two epochs, validation, CPU) with the callback as a
    config's `diagnostics.callbacks` entry instantiates it, against the same
    fit with the stock DataLoader."""
    anemoi_python()
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    work = tmp_path_factory.mktemp("anemoi_training_fit")
    out = work / "fit.json"
    _run_side("anemoi_training_fit", [paths["base"], str(out)], work)
    result = json.loads(out.read_text())
    assert result["loaders"] == {"train": "FastchunkDataLoader"}
    assert result["stock_loaders"] == {"train": "DataLoader"}
    assert result["batches"] == result["stock_batches"] == {"train": 6, "val": 3}
    assert result["same"]
