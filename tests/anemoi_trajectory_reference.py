"""Runs under anemoi-datasets' own environment (.venv-anemoi, zarr 2), as a
subprocess of tests/test_anemoi_trajectories.py:

  python anemoi_trajectory_reference.py create WORKDIR       trajectories datasets
  python anemoi_trajectory_reference.py reference CASES OUT  what open_dataset gives

anemoi-datasets 0.5.47 cannot build a trajectories dataset offline: only
its MARS source and the forcings source (whose template must come from a
source that can) take the (base date, step) requests of that layout
(create/source.py raises NotImplementedError for every other source). So
`create` writes the layout that TrajectoryGriddedCreator writes
(create/trajectories/creator.py: "data" (base_dates, variables, ensembles,
steps, cells) chunked by 1 along base dates and steps, "base_dates",
"steps", "latitudes", "longitudes", the statistics and the attributes) with
zarr 2, and every value is then what anemoi's own open_dataset reads.

CASES is a JSON list of {"id", "args", "kwargs", "reads"} (every base date
is read, then "reads": more index specs); OUT a pickle of {id: {"properties":
..., "reads": ...} or {"error": (type name, message)}}."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# name -> (base dates: first, count, hours apart; steps in hours; missing base
# dates; variables; members; cells; tendency statistics; "frequency" attribute)
DATASETS: dict[str, dict[str, Any]] = {
    "traj": {"first": "2020-01-01T00:00:00", "count": 12, "every": 12,
             "steps": [0, 6, 12, 18, 24, 30, 36], "missing": ["2020-01-02T12:00:00"],
             "variables": ["t2m", "msl", "tp", "u10"], "members": 2, "cells": 30,
             "tendencies": ["6h", "12h"], "frequency": True},
    "uneven": {"first": "2021-06-01T00:00:00", "count": 6, "every": 24,
               "steps": [0, 6, 12, 24, 48], "missing": [],
               "variables": ["z500", "t850"], "members": 1, "cells": 17,
               "tendencies": [], "frequency": False},
}  # fmt: skip


def _write(path: Path, spec: dict[str, Any], seed: int) -> None:
    import numpy as np
    import zarr

    rng = np.random.default_rng(seed)
    nb, nv = spec["count"], len(spec["variables"])
    ne, ns, nc = spec["members"], len(spec["steps"]), spec["cells"]
    base = np.datetime64(spec["first"], "s") + np.arange(nb) * np.timedelta64(spec["every"], "h")
    steps = (np.array(spec["steps"]) * np.timedelta64(1, "h")).astype("timedelta64[s]")
    values = 280 + 10 * rng.standard_normal((nb, nv, ne, ns, nc))
    missing = np.isin(base, np.array(spec["missing"], dtype="datetime64[s]"))
    values[missing] = np.nan  # what the creator leaves there
    values = values.astype("f4")
    g = zarr.open_group(str(path), mode="w")
    data = g.create_dataset("data", shape=values.shape, chunks=(1, nv, ne, 1, nc), dtype="f4",
                            fill_value=np.nan)  # fmt: skip
    data[...] = values
    g.create_dataset("base_dates", data=base)
    g.create_dataset("steps", data=steps)
    g.create_dataset("latitudes", data=np.linspace(70.0, -40.0, nc))
    g.create_dataset("longitudes", data=np.linspace(-20.0, 150.0, nc) % 360)
    ok = values[~missing]
    for name, f in (("mean", np.mean), ("stdev", np.std), ("maximum", np.max),
                    ("minimum", np.min)):  # fmt: skip
        g.create_dataset(name, data=np.array([f(ok[:, i]) for i in range(nv)], dtype="f8"))
        for delta in spec["tendencies"]:
            k = {"6h": 1, "12h": 2}[delta]
            diff = ok[:, :, :, k:] - ok[:, :, :, :-k]
            stats = np.array([f(diff[:, i]) for i in range(nv)], dtype="f8")
            g.create_dataset(f"statistics_tendencies_{delta}_{name}", data=stats)
    attrs: dict[str, Any] = {
        "layout": "trajectories",
        "variables": spec["variables"],
        "missing_dates": spec["missing"],
        "resolution": "o96" if nc == 30 else None,
        "field_shape": [nc],
        "ensemble_dimension": ne,
        "dimensions": ["base_dates", "variables", "ensembles", "steps", "values"],
        "variables_metadata": {spec["variables"][0]: {"param": "2t", "mars": {"levtype": "sfc"}},
                               spec["variables"][-1]: {"param": "last"}},
        "start_base_date": str(base[0]),
        "end_base_date": str(base[-1]),
        "version": "0.30",
    }
    if spec["frequency"]:
        attrs["frequency"] = f"{spec['every']}h"
    g.attrs.update(attrs)


def create(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    for seed, (name, spec) in enumerate(DATASETS.items()):
        _write(workdir / f"{name}.zarr", spec, seed)


def _seconds(value: Any) -> Any:
    return None if value is None else int(value.total_seconds())


def _attempt(f: Any) -> Any:
    try:
        return f()
    except Exception as e:  # noqa: BLE001 - anemoi's answer, compared by type
        return ("error", type(e).__name__)


def _properties(ds: Any) -> dict[str, Any]:
    import numpy as np

    return {
        "len": len(ds),
        "shape": tuple(int(x) for x in ds.shape),
        "dtype": str(ds.dtype),
        "variables": list(ds.variables),
        "name_to_index": dict(ds.name_to_index),
        "base_dates": np.asarray(ds.base_dates).astype("datetime64[s]"),
        "steps": np.asarray(ds.steps).astype("timedelta64[s]"),
        "missing": sorted(int(m) for m in ds.missing),
        "frequency": ds.frequency,
        "base_frequency": _attempt(lambda: _seconds(ds.base_frequency)),
        "step_frequency": _seconds(ds.step_frequency),
        "step_start": _seconds(ds.step_start),
        "step_end": _seconds(ds.step_end),
        "start_date": np.datetime64(ds.start_date, "s"),
        "end_date": np.datetime64(ds.end_date, "s"),
        "base_start_date": np.datetime64(ds.base_start_date, "s"),
        "base_end_date": np.datetime64(ds.base_end_date, "s"),
        "statistics": {k: np.asarray(v) for k, v in ds.statistics.items()},
        "statistics_tendencies": _attempt(
            lambda: {k: np.asarray(v) for k, v in ds.statistics_tendencies().items()}
        ),
        "statistics_tendencies_12h": _attempt(
            lambda: {k: np.asarray(v) for k, v in ds.statistics_tendencies("12h").items()}
        ),
        "latitudes": np.asarray(ds.latitudes),
        "longitudes": np.asarray(ds.longitudes),
        "field_shape": tuple(ds.field_shape),
        "resolution": ds.resolution,
        "variables_metadata": json.loads(json.dumps(ds.variables_metadata)),
        "grids": tuple(int(g) for g in ds.grids),
        "supporting_arrays": {k: np.asarray(v) for k, v in ds.supporting_arrays().items()},
        "metadata": _attempt(ds.metadata),
    }


def reference(cases_path: Path, out_path: Path) -> None:
    # Run as a script beside anemoi_reference.py: its directory is on sys.path.
    from anemoi_reference import reference as read_cases

    read_cases(cases_path, out_path, properties=_properties)


if __name__ == "__main__":
    os.environ.setdefault("ANEMOI_DATASETS_PROGRESS", "0")
    if sys.argv[1] == "create":
        create(Path(sys.argv[2]))
    elif sys.argv[1] == "reference":
        reference(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
