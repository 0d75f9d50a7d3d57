"""Runs under anemoi-datasets' own environment (.venv-anemoi, zarr 2), as a
subprocess of the tests and the benchmark:

  python anemoi_reference.py create WORKDIR       datasets made by `anemoi-datasets create`
  python anemoi_reference.py reference CASES OUT  what open_dataset gives for each case

CASES is a JSON list of {"id", "args", "kwargs", "reads"} (every date is
read, then "reads": more index specs); OUT a pickle of
{id: {"properties": ..., "reads": ...} or {"error": (type name, message)}}.
Only numpy, the standard library and anemoi's own stack are used here."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

GRID = (5, 8)  # latitudes x longitudes
# (first, last, count) of the latitudes, then of the longitudes, of each grid
GRIDS = {
    "global": ((60.0, 20.0, GRID[0]), (0.0, 35.0, GRID[1])),
    # a limited area inside the global grid, finer (cutout=[lam, base])
    "lam": ((52.5, 27.5, 11), (2.5, 27.5, 11)),
}
FORCINGS = ["cos_latitude", "sin_longitude", "cos_julian_day", "insolation"]

# name -> (first date, number of 6-hourly dates, missing dates, NetCDF variables)
DATASETS: dict[str, tuple[str, int, list[str], list[str]]] = {
    "base": ("2020-01-01T00:00:00", 16, ["2020-01-02T06:00:00", "2020-01-03T12:00:00"],
             ["t2m", "msl"]),
    # the same dates and grid, other variables (t2m again: anemoi's join overlay)
    "other": ("2020-01-01T00:00:00", 16, ["2020-01-01T18:00:00"], ["tp", "t2m"]),
    # the dates right after base's, base's variables
    "later": ("2020-01-05T00:00:00", 8, ["2020-01-06T00:00:00"], ["t2m", "msl"]),
    # base's dates and variables on a limited-area grid (one of base's missing dates)
    "lam": ("2020-01-01T00:00:00", 16, ["2020-01-02T06:00:00"], ["t2m", "msl"]),
}  # fmt: skip


def _netcdf(
    path: Path, start: str, count: int, names: list[str], seed: int, grid: str = "global"
) -> None:
    import numpy as np
    import pandas as pd
    import xarray as xr

    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=count, freq="6h")
    (lat, lon) = (np.linspace(*spec) for spec in GRIDS[grid])
    shape = (lat.size, lon.size)
    units = {"t2m": ("K", 280.0, 3.0), "msl": ("Pa", 1.0e5, 300.0), "tp": ("m", 0.001, 0.0005)}
    data_vars = {}
    for name in names:
        unit, base, spread = units[name]
        values = base + spread * rng.standard_normal((count, *shape))
        data_vars[name] = (("time", "latitude", "longitude"), values.astype("f4"), {"units": unit})
    coords = {
        "time": times,
        "latitude": ("latitude", lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": ("longitude", lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    xr.Dataset(data_vars, coords=coords).to_netcdf(path)


def _recipe(path: Path, source: Path, start: str, count: int, missing: list[str]) -> None:
    import numpy as np

    end = np.datetime64(start) + np.timedelta64(6 * (count - 1), "h")
    lines = [
        "dates:",
        f"  start: {start}",
        f"  end: {str(end)}",
        "  frequency: 6h",
        f"  missing: {json.dumps(missing)}",
        "input:",
        "  join:",
        "    - netcdf:",
        f"        path: {source}",
        "    - forcings:",
        "        template: ${input.join.0.netcdf}",
        f"        param: {json.dumps(FORCINGS)}",
    ]
    path.write_text("\n".join(lines) + "\n")


def create(workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    cli = Path(sys.executable).parent / "anemoi-datasets"
    jobs = []
    for seed, (name, (start, count, missing, names)) in enumerate(DATASETS.items()):
        nc, recipe = workdir / f"{name}.nc", workdir / f"{name}.yaml"
        _netcdf(nc, start, count, names, seed, "lam" if name == "lam" else "global")
        _recipe(recipe, nc, start, count, missing)
        jobs.append([str(cli), "create", str(recipe), str(workdir / f"{name}.zarr"), "--overwrite"])

    def run(cmd: list[str]) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
        if done.returncode:
            tail = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{tail}")

    with ThreadPoolExecutor(len(jobs)) as pool:
        list(pool.map(run, jobs))


def _properties(ds: Any) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {
        "len": len(ds),
        "shape": tuple(int(x) for x in ds.shape),
        "dtype": str(ds.dtype),
        "variables": list(ds.variables),
        "name_to_index": dict(ds.name_to_index),
        "dates": np.asarray(ds.dates).astype("datetime64[s]"),
        "missing": sorted(int(m) for m in ds.missing),
        "statistics": {k: np.asarray(v) for k, v in ds.statistics.items()},
        "latitudes": np.asarray(ds.latitudes),
        "longitudes": np.asarray(ds.longitudes),
        "field_shape": tuple(ds.field_shape),
        "resolution": ds.resolution,
        "variables_metadata": json.loads(json.dumps(ds.variables_metadata)),
        "constant_fields": list(ds.constant_fields),
    }
    try:
        out["frequency"] = int(ds.frequency.total_seconds())
    except ValueError as e:
        out["frequency"] = ("error", str(e))
    out["grids"] = tuple(int(g) for g in ds.grids)
    out["supporting_arrays"] = {k: np.asarray(v) for k, v in ds.supporting_arrays().items()}
    try:
        out["statistics_tendencies"] = {
            k: np.asarray(v) for k, v in ds.statistics_tendencies().items()
        }
    except Exception as e:  # noqa: BLE001 - anemoi's answer, compared by type
        out["statistics_tendencies"] = ("error", type(e).__name__)
    try:
        out["metadata"] = ds.metadata()
    except Exception as e:  # noqa: BLE001 - anemoi's answer, compared by type
        out["metadata"] = ("error", type(e).__name__)
    return out


def _index(spec: Any) -> Any:
    """JSON read specs: ["slice", a, b, c] is a slice, lists stay lists."""
    if isinstance(spec, list) and spec and spec[0] == "slice":
        return slice(*spec[1:])
    if isinstance(spec, list) and spec and spec[0] == "tuple":
        return tuple(_index(s) for s in spec[1:])
    return spec


def _read(ds: Any, spec: Any) -> Any:
    from anemoi.datasets import MissingDateError

    try:
        return ("ok", ds[_index(spec)])
    except MissingDateError as e:
        return ("missing", str(e))
    except Exception as e:  # noqa: BLE001 - anemoi's own limits, reported as such
        return ("error", f"{type(e).__name__}: {e}")


def reference(cases_path: Path, out_path: Path, properties: Any = _properties) -> None:
    """Each case's properties (`properties(ds)`) and reads, as anemoi gives
    them; tests/anemoi_trajectory_reference.py passes its own properties."""
    import logging

    logging.disable(logging.WARNING)
    from anemoi.datasets import open_dataset

    results: dict[str, Any] = {}
    for case in json.loads(cases_path.read_text()):
        try:
            ds = open_dataset(*case.get("args", []), **case.get("kwargs", {}))
            props = properties(ds)
            # every date on its own, then the case's other reads
            specs = list(range(len(ds))) + list(case.get("reads", []))
            reads = {json.dumps(spec): _read(ds, spec) for spec in specs}
            results[case["id"]] = {"properties": props, "reads": reads}
        except Exception as e:  # noqa: BLE001 - reported to the test, which decides
            results[case["id"]] = {"error": (type(e).__name__, str(e))}
    with open(out_path, "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    os.environ.setdefault("ANEMOI_DATASETS_PROGRESS", "0")
    if sys.argv[1] == "create":
        create(Path(sys.argv[2]))
    elif sys.argv[1] == "reference":
        reference(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
