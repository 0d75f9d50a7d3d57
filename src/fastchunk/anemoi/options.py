"""open_dataset's options: anemoi-datasets' names, applied in anemoi's order.
Every option anemoi knows is either built here or refused by name."""

from __future__ import annotations

import os
from typing import Any

from fastchunk.anemoi.store import AnemoiStore
from fastchunk.anemoi.view import Dataset
from fastchunk.errors import UnsupportedError

# Options that change a view, in the order anemoi applies them.
BUILT = (
    "fill_missing_dates", "closest", "start", "end", "frequency", "select", "drop", "reorder",
    "rename", "statistics", "number", "numbers", "member", "members", "set_missing_dates",
    "missing_dates", "name", "thinning", "method",
)  # fmt: skip

# anemoi-datasets 0.5 options fastchunk does not build (yet): refused, never ignored.
NOT_BUILT = (
    "extend_start", "extend_end", "rescale", "statistics_tendencies", "mask", "trim_edge",
    "area", "set_missing_base_dates", "skip_missing_dates",
    "expected_access", "interpolate_frequency", "interpolate_variables", "max_distance",
    "rolling_average", "shuffle", "tensors", "step", "steps", "step_start", "step_end",
    "step_frequency", "base_start", "base_end", "base_frequency", "xy", "x", "y", "zip",
    "chain", "merge", "ensemble", "grids", "cutout", "complement", "synthetic", "adjust",
    "fill_missing_gaps", "check_variables_compatibility", "min_distance_km", "cropping",
    "allow_overlap", "source",
)  # fmt: skip

COMBINE = ("join", "concat")
MISSING_POLICIES = ("raise", "skip")


def _refuse(kwargs: dict[str, Any]) -> None:
    for key in kwargs:
        if key in NOT_BUILT:
            raise UnsupportedError(
                f"open_dataset option {key!r} is an anemoi-datasets option fastchunk does not "
                f"support; supported: {', '.join(COMBINE + BUILT)}"
            )
        if key not in BUILT and key not in COMBINE and key != "dataset" and key != "datasets":
            raise TypeError(f"open_dataset got an unknown option {key!r}")


def open_view(args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Dataset:
    """anemoi's _open_dataset: positional datasets, `dataset(s)=`, `join=`
    or `concat=`, then the subset options."""
    kwargs = dict(kwargs)
    _refuse(kwargs)
    if "join" in kwargs or "concat" in kwargs:
        if args or ("join" in kwargs and "concat" in kwargs):
            raise ValueError("join= and concat= take the datasets; give no others beside them")
        how = "join" if "join" in kwargs else "concat"
        members = kwargs.pop(how)
        if not isinstance(members, (list, tuple)) or not members:
            raise ValueError(f"{how}= takes a list of datasets")
        views = [open_one(m, options) for m in members]
        view = views[0] if len(views) == 1 else getattr(Dataset, how)(views)
        return apply_options(view, kwargs, options)
    sets = [open_one(a, options) for a in args]
    for key in ("datasets", "dataset"):
        if key in kwargs:
            given = kwargs.pop(key)
            for item in given if isinstance(given, (list, tuple)) else [given]:
                sets.append(open_one(item, options))
    if not sets:
        raise TypeError("open_dataset needs a dataset: a path, URL, dict or list")
    if len(sets) > 1:
        same = len({(str(s.dates[0]), str(s.dates[-1])) for s in sets}) == 1
        view = Dataset.join(sets) if same else Dataset.concat(sets)
    else:
        view = sets[0]
    return apply_options(view, kwargs, options)


def open_one(item: Any, options: dict[str, Any]) -> Dataset:
    if isinstance(item, Dataset):
        return item
    if isinstance(item, (str, os.PathLike)):
        return Dataset.from_store(AnemoiStore(item, options.get("storage_options")))
    if isinstance(item, dict):
        return open_view((), item, options)
    if isinstance(item, (list, tuple)):
        return open_view(tuple(item), {}, options)
    raise TypeError(f"cannot open an anemoi dataset from {type(item).__name__}")


def apply_options(view: Dataset, kwargs: dict[str, Any], options: dict[str, Any]) -> Dataset:
    _refuse(kwargs)
    kw = dict(kwargs)
    name = kw.pop("name", None)
    if "fill_missing_dates" in kw:
        view = view.fill_missing(kw.pop("fill_missing_dates"), kw.pop("closest", "up"))
    elif "closest" in kw:
        raise ValueError("closest= goes with fill_missing_dates='closest'")
    if "start" in kw or "end" in kw:
        view = view.subset_dates(kw.pop("start", None), kw.pop("end", None))
    if "frequency" in kw:
        view = view.subset_frequency(kw.pop("frequency"))
    for key in ("select", "drop", "reorder", "rename"):
        if key in kw:
            view = getattr(view, key)(kw.pop(key))
    if "statistics" in kw:
        other = open_one(kw.pop("statistics"), options)
        view = view.with_statistics(other.select(view.variables))
    offsets = {"number": 1, "numbers": 1, "member": 0, "members": 0}
    chosen: list[int] = []
    for key, offset in offsets.items():
        if key in kw:
            value = kw.pop(key)
            values = value if isinstance(value, (list, tuple)) else [value]
            chosen += [int(v) - offset for v in values]
    if any(k in kwargs for k in offsets):
        view = view.members(chosen)
    if "thinning" in kw or "method" in kw:
        view = view.thinning(kw.pop("thinning", None), kw.pop("method", None))
    if "set_missing_dates" in kw:
        view = view.set_missing(kw.pop("set_missing_dates"))
    policy = kw.pop("missing_dates", "raise")
    if policy not in MISSING_POLICIES:
        raise ValueError(f"missing_dates must be one of {MISSING_POLICIES}, got {policy!r}")
    if policy == "skip":
        view = view.skip_missing()
    assert not kw, kw
    if name is not None:
        view = view._with(name=name)
    return view
