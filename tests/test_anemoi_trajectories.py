"""fastchunk.anemoi on trajectories datasets (anemoi-datasets' 5-D layout,
what anemoi-training's TrajectoryDataset reads) against anemoi-datasets'
own open_dataset on the same stores: every property, metadata() and every
read compared, options included."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
import fastchunk.anemoi as fa
from fastchunk.anemoi.trajectories import TrajectoryView
from tests.anemoi_support import anemoi_python, index, substitute

SCRIPT = Path(__file__).resolve().parent / "anemoi_trajectory_reference.py"

READS = [
    ["slice", 0, 2],
    ["slice", 4, 11, 3],
    ["slice", 5, 9],
    ["tuple", 0, ["slice", None], 1, [0, 2], ["slice", 0, 9]],
    ["tuple", ["slice", 0, 2], [1, 0], ["slice", None], ["slice", 1, 3], ["slice", 5, 20, 2]],
    ["tuple", ["slice", 6, 8], ["slice", None], 0, ["slice", None], [3, 1, 7]],
    ["tuple", 2, 1],
    ["tuple", 4, ["slice", None], ["slice", None], 0],
]

CASES: list[tuple[str, list[Any], dict[str, Any]]] = [
    ("plain", ["@traj"], {}),
    ("base_range", ["@traj"], {"base_start": "2020-01-02", "base_end": "2020-01-04T12:00:00"}),
    ("base_digits", ["@traj"], {"base_start": 20200103}),
    ("base_end_only", ["@traj"], {"base_end": "2020-01-03T06:00:00"}),
    ("envelope", ["@traj"], {"start": "2020-01-02T06:00:00", "end": "2020-01-06"}),
    ("envelope_base", ["@traj"], {"start": "2020-01-02", "base_end": "2020-01-05"}),
    ("steps", ["@traj"], {"steps": [0, 12, 24]}),
    ("steps_one", ["@traj"], {"steps": 6}),
    ("steps_uneven", ["@traj"], {"steps": [0, 6, 24]}),
    ("step_range", ["@traj"], {"step_start": 6, "step_end": 30, "step_frequency": 12}),
    ("step_every", ["@traj"], {"step_frequency": "12"}),
    ("step_end", ["@traj"], {"step_end": 18}),
    ("base_frequency", ["@traj"], {"base_frequency": "1d"}),
    ("base_frequency_range", ["@traj"],
     {"base_frequency": "36h", "base_start": "2020-01-01T12:00:00"}),
    ("select", ["@traj"], {"select": ["msl", "t2m"]}),
    ("select_one", ["@traj"], {"select": "u10"}),
    ("drop", ["@traj"], {"drop": ["tp"]}),
    ("reorder", ["@traj"], {"reorder": "sort"}),
    ("reorder_list", ["@traj"], {"reorder": ["u10", "tp", "msl", "t2m"]}),
    # what anemoi-training's TrajectoryDataset does: the reader's config, then
    # open_dataset(config, base_start=, base_end=)
    ("training", [{"dataset": "@traj", "select": ["t2m", "u10", "msl"], "steps": [6, 12, 18]}],
     {"base_start": "2020-01-01T12:00:00", "base_end": "2020-01-05"}),
    ("training_range", [{"dataset": "@traj", "step_start": 0, "step_end": 24}],
     {"base_start": "2020-01-02"}),
    ("nested_subsets", [{"dataset": "@traj", "start": "2020-01-01T12:00:00"}],
     {"base_end": "2020-01-05", "base_frequency": "1d"}),
    ("nested_selects", [{"dataset": "@traj", "drop": "tp"}], {"select": ["u10", "t2m"]}),
    ("nested_steps", [{"dataset": "@traj", "steps": [0, 12, 24, 36]}],
     {"step_frequency": 24, "base_start": "2020-01-03"}),
    ("uneven", ["@uneven"], {}),
    ("uneven_steps", ["@uneven"], {"steps": [0, 12, 24], "base_end": "2021-06-04"}),
    ("uneven_subset", ["@uneven"], {"base_start": "2021-06-02", "select": ["t850"]}),
    ("frequency", ["@traj"], {"frequency": "12h"}),
    ("step_unknown", ["@traj"], {"steps": [7]}),
    ("step_range_empty", ["@traj"], {"step_start": 40}),
    ("base_frequency_bad", ["@traj"], {"base_frequency": "18h"}),
    ("select_unknown", ["@traj"], {"select": ["t2m", "nope"]}),
]  # fmt: skip


def _run(args: list[str]) -> None:
    env = dict(os.environ)
    for key in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(key, None)
    done = subprocess.run(
        [anemoi_python(), str(SCRIPT), *args], capture_output=True, text=True, timeout=600,
        env=env,
    )  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"{SCRIPT.name} {args[0]} failed:\n{done.stderr[-4000:]}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, Any]]:
    work = tmp_path_factory.mktemp("trajectories")
    _run(["create", str(work)])
    paths = {n: str(work / f"{n}.zarr") for n in ("traj", "uneven")}
    cases = [
        {"id": cid, "args": substitute(args, paths), "kwargs": substitute(kw, paths),
         "reads": READS}
        for cid, args, kw in CASES
    ]  # fmt: skip
    (work / "cases.json").write_text(json.dumps(cases))
    _run(["reference", str(work / "cases.json"), str(work / "reference.pkl")])
    with open(work / "reference.pkl", "rb") as f:
        return paths, pickle.load(f)


def _open(paths: dict[str, str], args: list[Any], kw: dict[str, Any]) -> Any:
    return fa.open_dataset(*substitute(args, paths), **substitute(kw, paths))


def _seconds(value: Any) -> Any:
    return None if value is None else int(value.total_seconds())


def _same_arrays(got: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert set(got) == set(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(got[k], v)
        assert got[k].dtype == v.dtype, k


def check_properties(view: TrajectoryView, props: dict[str, Any]) -> None:
    assert isinstance(view, TrajectoryView)
    assert len(view) == props["len"]
    assert view.shape == props["shape"]
    assert str(view.dtype) == props["dtype"]
    assert view.variables == props["variables"]
    assert view.name_to_index == props["name_to_index"]
    np.testing.assert_array_equal(view.base_dates, props["base_dates"])
    assert view.base_dates.dtype == props["base_dates"].dtype
    np.testing.assert_array_equal(view.steps, props["steps"])
    assert sorted(view.missing) == props["missing"]
    assert view.frequency is props["frequency"] is None
    if isinstance(props["base_frequency"], tuple):
        with pytest.raises(ValueError):
            view.base_frequency  # noqa: B018
    else:
        assert _seconds(view.base_frequency) == props["base_frequency"]
    assert _seconds(view.step_frequency) == props["step_frequency"]
    assert _seconds(view.step_start) == props["step_start"]
    assert _seconds(view.step_end) == props["step_end"]
    for key in ("start_date", "end_date", "base_start_date", "base_end_date"):
        assert np.datetime64(getattr(view, key), "s") == props[key], key
    _same_arrays(view.statistics, props["statistics"])
    for key, delta in (("statistics_tendencies", None), ("statistics_tendencies_12h", "12h")):
        expected = props[key]
        if isinstance(expected, tuple):
            with pytest.raises((KeyError, ValueError)) as err:
                view.statistics_tendencies(delta)
            assert type(err.value).__name__ == expected[1]
        else:
            _same_arrays(view.statistics_tendencies(delta), expected)
    np.testing.assert_array_equal(view.latitudes, props["latitudes"])
    np.testing.assert_array_equal(view.longitudes, props["longitudes"])
    assert view.field_shape == props["field_shape"]
    assert view.resolution == props["resolution"]
    assert view.variables_metadata == props["variables_metadata"]
    assert view.grids == props["grids"]
    _same_arrays(view.supporting_arrays(), props["supporting_arrays"])
    assert not isinstance(props["metadata"], tuple), props["metadata"]
    got = view.metadata()
    assert set(got) == set(props["metadata"])
    for key, value in props["metadata"].items():
        assert got[key] == value, (key, got[key], value)


def _base_date_of(message: str) -> str:
    m = re.search(r"Base date (\S+) is missing", message)
    assert m, message
    return str(np.datetime64(m.group(1), "s"))


def check_reads(view: TrajectoryView, reads: dict[str, Any]) -> int:
    compared = 0
    for spec_text, (kind, value) in reads.items():
        key = index(json.loads(spec_text))
        shadow = np.lib.stride_tricks.as_strided(np.zeros(1), view.shape, (0,) * len(view.shape))
        try:
            shadow[key]
        except IndexError:  # out of the view's range (anemoi 0.5.47 reads some anyway)
            with pytest.raises(IndexError):
                view[key]
            compared += 1
            continue
        if kind == "ok":
            got = view[key]
            assert got.shape == value.shape, (spec_text, got.shape, value.shape)
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value, err_msg=spec_text)
            compared += 1
        elif kind == "missing":
            with pytest.raises(fa.MissingDateError) as err:
                view[key]
            assert _base_date_of(str(err.value)) == _base_date_of(value), spec_text
            compared += 1
        else:  # anemoi itself cannot read this index: fastchunk reads it as numpy would
            whole = np.empty(view.shape, dtype=view.dtype)
            view.read_orthogonal([range(n) for n in view.shape], whole)
            rows = np.arange(len(view))[key if not isinstance(key, tuple) else key[0]]
            if set(np.atleast_1d(rows).tolist()) & view.missing:
                with pytest.raises(fa.MissingDateError):
                    view[key]
            else:
                np.testing.assert_array_equal(view[key], whole[key], err_msg=spec_text)
            compared += 1
    return compared


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_against_anemoi(env: tuple[dict[str, str], dict[str, Any]], case: Any) -> None:
    paths, ref = env
    cid, args, kw = case
    expected = ref[cid]
    if "error" in expected:
        name, message = expected["error"]
        with pytest.raises(Exception) as err:
            _open(paths, args, kw)
        assert type(err.value).__name__ == name, (err.value, message)
        return
    view = _open(paths, args, kw)
    check_properties(view, expected["properties"])
    assert check_reads(view, expected["reads"]) == len(expected["reads"])


def test_errors_are_anemoi_errors(env: tuple[dict[str, str], dict[str, Any]]) -> None:
    """The cases anemoi refuses are all refused (not silently read)."""
    _, ref = env
    refused = {cid for cid, r in ref.items() if "error" in r}
    assert refused == {"frequency", "step_unknown", "step_range_empty", "base_frequency_bad",
                       "select_unknown"}  # fmt: skip


@pytest.mark.parametrize(
    "kw",
    [
        {"rename": {"t2m": "2t"}},
        {"step": 6},
        {"statistics": "@uneven"},
        {"thinning": 2},
        {"members": [0]},
        {"set_missing_base_dates": ["2020-01-01T00:00:00"]},
        {"missing_dates": "skip"},
        {"fill_missing_dates": "nan"},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_refused_by_name(env: tuple[dict[str, str], dict[str, Any]], kw: dict[str, Any]) -> None:
    paths, _ = env
    with pytest.raises(fastchunk.UnsupportedError, match=repr(next(iter(kw)))):
        _open(paths, ["@traj"], kw)


def test_refused_combinations(env: tuple[dict[str, str], dict[str, Any]]) -> None:
    paths, _ = env
    with pytest.raises(fastchunk.UnsupportedError, match="after stepsubset"):
        _open(paths, [{"dataset": "@traj", "steps": [0, 6]}], {"start": "2020-01-02"})
    for how in ("join", "concat", "ensemble"):
        with pytest.raises(fastchunk.UnsupportedError, match="trajectories"):
            _open(paths, [], {how: ["@traj", "@traj"]})
    with pytest.raises(fastchunk.UnsupportedError, match="trajectories"):
        _open(paths, ["@traj", "@traj"], {})


def test_gridded_refuses_step_options() -> None:
    """A gridded view refuses the trajectory options by name."""
    from fastchunk.anemoi.options import apply_options

    class _Gridded(fa.Dataset):  # any gridded view: the refusal comes first
        def __init__(self) -> None:
            pass

    for key, value in (("steps", [0]), ("base_start", "2020-01-01"), ("step_frequency", 6)):
        with pytest.raises(fastchunk.UnsupportedError, match=repr(key)):
            apply_options(_Gridded(), {key: value}, {})


def test_trajectory_dataset_sample(env: tuple[dict[str, str], dict[str, Any]]) -> None:
    """anemoi-training's TrajectoryDataset.get_sample, on fastchunk's view:
    data[sequence] then steps, then a grid shard (its own numpy indexing)."""
    paths, _ = env
    view = _open(paths, [{"dataset": paths["traj"], "steps": [0, 6, 12, 18]}],
                 {"base_start": "2020-01-01T12:00:00"})  # fmt: skip
    assert view.shape[0] == 11 and view.shape[-2] == 4
    assert view.missing == {2}
    assert _seconds(view.step_frequency) == 6 * 3600
    full = view[0:2]
    x = view[1][:, :, [1, 3], :][..., np.arange(4, 12)]
    np.testing.assert_array_equal(x, full[1][:, :, [1, 3], 4:12])
    y = np.einsum("vesg->segv", x)
    assert y.shape == (2, 2, 8, 4)


def test_pickle(env: tuple[dict[str, str], dict[str, Any]]) -> None:
    paths, _ = env
    view = _open(paths, ["@traj"], {"steps": [0, 12], "select": ["tp"], "base_end": "2020-01-02"})
    again = pickle.loads(pickle.dumps(view))
    assert again.shape == view.shape
    np.testing.assert_array_equal(again[0:2], view[0:2])
    assert again.metadata() == view.metadata()


TRAINING_CASES = [
    {"id": "plain", "config": "@traj"},
    {"id": "range", "config": {"dataset": "@traj", "steps": [0, 6, 12, 18]},
     "start": "2020-01-01T12:00:00", "end": "2020-01-05"},
    {"id": "select", "config": {"dataset": "@traj", "select": ["u10", "t2m"], "step_start": 6,
                                "step_frequency": 12}, "start": 20200102},
    {"id": "uneven", "config": {"dataset": "@uneven", "steps": [0, 12, 24]}},
]  # fmt: skip


def test_anemoi_training_trajectory_dataset(
    env: tuple[dict[str, str], dict[str, Any]], tmp_path: Path
) -> None:
    """anemoi-training's own TrajectoryDataset on fastchunk's view and on
    anemoi-datasets': the same sequences, missing ones, frequency,
    statistics, metadata and samples (tests/anemoi_trajectory_training.py)."""
    paths, _ = env
    root = Path(__file__).resolve().parent.parent
    path = tmp_path / "path"
    path.mkdir()
    (path / "fastchunk").symlink_to(Path(fastchunk.__file__).parent)
    cases, out = tmp_path / "cases.json", tmp_path / "out.json"
    cases.write_text(json.dumps(substitute(TRAINING_CASES, paths)))
    run_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run_env["PYTHONPATH"] = f"{path}{os.pathsep}{root}"
    done = subprocess.run(
        [anemoi_python(), "-m", "tests.anemoi_trajectory_training", str(cases), str(out)],
        cwd=root, env=run_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads(out.read_text())
    for case in TRAINING_CASES:
        result = results[case["id"]]
        assert "error" not in result, result.get("error")
    # (sequences not missing) x 4 position selections x (whole grid, a shard)
    counts = {k: v["samples"] for k, v in results.items()}
    assert counts == {"plain": 88, "range": 64, "select": 72, "uneven": 48}
