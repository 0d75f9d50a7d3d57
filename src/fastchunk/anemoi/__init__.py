"""anemoi datasets the way anemoi users open them: by variable names and
dates, with their statistics and missing dates, read by fastchunk's core.

    from fastchunk.anemoi import open_dataset
    ds = open_dataset("era5-o96.zarr", select=["2t", "msl"], start=2020, end=2021,
                      frequency="12h")
    ds.variables, ds.dates, ds.statistics["mean"], ds.missing
    ds[0]                        # (variables, ensembles, gridpoints) of the first date

Options keep anemoi-datasets' names and meanings (`select`, `drop`,
`reorder`, `rename`, `start`, `end`, `frequency`, `join`, `concat`,
`fill_missing_dates`, `set_missing_dates`, `statistics`, `member(s)` /
`number(s)`, `thinning`, `ensemble`, `grids`, `cutout` with its
`min_distance_km`, `max_distance_km`, `cropping_distance`, `neighbours`,
`adjust`); the options fastchunk does not build raise
`UnsupportedError`. A missing date raises `MissingDateError` unless `missing_dates="skip"` (the
view leaves them out) or `fill_missing_dates=` ("closest", "interpolate",
"nan", "mean", "maximum", "minimum") says otherwise.

`fastchunk.torch.Loader(ds, ...)` and `ArrayDataset(ds, ...)` read a view.

A trajectories dataset (anemoi's 5-D layout, (base_dates, variables,
ensembles, steps, cells), what anemoi-training's TrajectoryDataset reads)
opens as a `TrajectoryView`: `ds[i]` is (variables, ensembles, steps, cells)
of forecast i, with `base_dates`, `steps`, `step_frequency`,
`base_frequency`, `missing` (base dates) and anemoi's options `steps`,
`step_start`, `step_end`, `step_frequency`, `base_start`, `base_end`,
`base_frequency`, `start`/`end` (the valid-time envelope), `select`, `drop`,
`reorder`; others are refused by name.
"""

from __future__ import annotations

from typing import Any

from fastchunk.anemoi.dates import as_timedelta, frequency_string
from fastchunk.anemoi.options import open_view
from fastchunk.anemoi.store import AnemoiStore
from fastchunk.anemoi.trajectories import TrajectoryView
from fastchunk.anemoi.view import Dataset, MissingDateError

__all__ = [
    "AnemoiStore",
    "Dataset",
    "MissingDateError",
    "TrajectoryView",
    "as_timedelta",
    "frequency_string",
    "open_dataset",
]


def open_dataset(
    *args: Any, storage_options: dict[str, Any] | None = None, **kwargs: Any
) -> Dataset | TrajectoryView:
    """Opens anemoi datasets (paths, s3:// or https:// URLs, dicts of
    options, lists, or views) with anemoi-datasets' options. `storage_options`
    (endpoint_url, key, secret, ...) applies to every remote store opened."""
    view = open_view(args, kwargs, {"storage_options": storage_options})
    # metadata()'s "arguments", as anemoi-datasets records them
    return view.with_meta(view.meta, {"args": list(args), "kwargs": dict(kwargs)})
