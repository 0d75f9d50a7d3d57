"""open_dataset's options: anemoi-datasets' names, applied in anemoi's order.
Every option anemoi knows is either built here or refused by name."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from fastchunk.anemoi import metadata as md
from fastchunk.anemoi import trajectories
from fastchunk.anemoi.cutout import cutout_masks
from fastchunk.anemoi.dates import date_indices, seconds
from fastchunk.anemoi.store import AnemoiStore, layout_of, open_anemoi_group
from fastchunk.anemoi.trajectories import TrajectoryStore, TrajectoryView
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
    "chain", "merge", "complement", "synthetic", "adjust",
    "fill_missing_gaps", "check_variables_compatibility", "min_distance_km", "cropping",
    "allow_overlap", "source",
)  # fmt: skip

COMBINE = ("join", "concat", "ensemble", "grids", "cutout")
# What grids= and cutout= take beside their datasets (anemoi's defaults).
GRID_OPTIONS = {
    "grids": {"axis": 3, "adjust": None},
    "cutout": {"axis": 3, "adjust": None, "cropping_distance": 2.0, "neighbours": 5,
               "min_distance_km": None, "max_distance_km": None, "plot": None, "cache": False},
}  # fmt: skip
ADJUST = {
    "all": ("select", "frequency", "start", "end"),
    "dates": ("start", "end", "frequency"),
    "variables": ("select",),
}
MISSING_POLICIES = ("raise", "skip")


def _refuse(kwargs: dict[str, Any], allow: tuple[str, ...] = ()) -> None:
    for key in kwargs:
        if key in allow:
            continue
        if key in NOT_BUILT:
            raise UnsupportedError(
                f"open_dataset option {key!r} is an anemoi-datasets option fastchunk does not "
                f"support; supported: {', '.join(COMBINE + BUILT)}"
            )
        if key not in BUILT and key not in COMBINE and key not in ("dataset", "datasets", "axis"):
            raise TypeError(f"open_dataset got an unknown option {key!r}")


def open_view(args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Dataset:
    """anemoi's _open_dataset: positional datasets, `dataset(s)=`, `join=`
    or `concat=`, then the subset options."""
    kwargs = dict(kwargs)
    grid_options: dict[str, Any] = {}
    for how, defaults in GRID_OPTIONS.items():
        if how in kwargs:
            grid_options = {k: kwargs.pop(k, v) for k, v in defaults.items()}
            break
    _refuse(kwargs, trajectories.ONLY)  # the dataset's layout decides (apply_options)
    if any(k in kwargs for k in COMBINE):
        if args or sum(k in kwargs for k in COMBINE) > 1:
            raise ValueError(
                "join=, concat= and ensemble= take the datasets; give no others beside them"
            )
        how = next(k for k in COMBINE if k in kwargs)
        members = kwargs.pop(how)
        if how == "ensemble" and kwargs.pop("axis", 2) != 2:
            raise UnsupportedError("open_dataset(ensemble=, axis=): fastchunk joins along axis 2")
        if not isinstance(members, (list, tuple)) or not members:
            raise ValueError(f"{how}= takes a list of datasets")
        views = [open_one(m, options) for m in members]
        _no_trajectories(how, views)
        if how in GRID_OPTIONS:
            return apply_options(_grids(how, views, grid_options, kwargs, options), kwargs, options)
        view = views[0] if len(views) == 1 else getattr(Dataset, how)(views)
        view = view.with_meta(_combined(how, views))
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
        _no_trajectories("join", sets)
        same = len({(str(s.dates[0]), str(s.dates[-1])) for s in sets}) == 1
        view = Dataset.join(sets) if same else Dataset.concat(sets)
        view = view.with_meta(_combined("join" if same else "concat", sets))
    else:
        view = sets[0]
    return apply_options(view, kwargs, options)


def _no_trajectories(how: str, views: list[Any]) -> None:
    if any(isinstance(v, TrajectoryView) for v in views):
        raise UnsupportedError(
            f"open_dataset({how}=[...]) of trajectories datasets: fastchunk opens a "
            "trajectories dataset on its own"
        )


def _number(key: str, value: Any, kinds: tuple[type, ...] = (int, float)) -> Any:
    if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
        raise TypeError(f"open_dataset(cutout=, {key}=) takes a number, got {value!r}")
    if value is not None and value < 0:
        raise ValueError(f"open_dataset(cutout=, {key}=) must be non-negative, got {value!r}")
    return value


def _grids(
    how: str, views: list[Dataset], given: dict[str, Any], kwargs: dict[str, Any],
    options: dict[str, Any],
) -> Dataset:  # fmt: skip
    """anemoi's grids_factory and cutout_factory: the datasets adjusted to
    each other if asked, then their grids one after the other."""
    if given["axis"] != 3:
        raise UnsupportedError(
            f"open_dataset({how}=, axis={given['axis']!r}): fastchunk combines grids along "
            "axis 3, the gridpoints"
        )
    if len(views) < 2:
        raise ValueError(f"{how}= takes at least two datasets")
    if given["adjust"] is not None:
        views = _adjust(views, given["adjust"], kwargs, options)
    if how == "grids":
        view = Dataset.combine_grids(views)
        return view.with_meta(_combined("grids", views))
    if given["plot"]:
        raise UnsupportedError("open_dataset(cutout=, plot=): fastchunk draws no plots")
    if given["cache"] not in (False, None):
        raise UnsupportedError(
            "open_dataset(cutout=, cache=): fastchunk computes the cutout masks each time; "
            "it reads and writes no mask files"
        )
    params = {
        "cropping_distance": _number("cropping_distance", given["cropping_distance"]),
        "neighbours": _number("neighbours", given["neighbours"], (int,)),
        "min_distance_km": _number("min_distance_km", given["min_distance_km"]),
        "max_distance_km": _number("max_distance_km", given["max_distance_km"]),
    }
    if params["cropping_distance"] is None or params["neighbours"] is None:
        raise TypeError("open_dataset(cutout=): cropping_distance and neighbours take numbers")
    lams, globe = cutout_masks([(v.latitudes, v.longitudes) for v in views], **params)
    view = Dataset.combine_grids(views, [*lams, globe], cutout=True)
    nodes = [v.meta for v in views]
    node = None if any(n is None for n in nodes) else md.grids(nodes, "cutout", view.shape[3])
    return view.with_meta(node)


def _adjust(
    views: list[Dataset], adjust: Any, kwargs: dict[str, Any], options: dict[str, Any]
) -> list[Dataset]:
    """anemoi's _auto_adjust: the datasets brought to their common variables
    (select, sorted), first and last common dates and coarsest frequency."""
    keys: set[str] = set()
    for a in adjust if isinstance(adjust, (list, tuple)) else [adjust]:
        keys.update(ADJUST.get(a, (a,)))
    extra = keys - set(ADJUST["all"])
    if extra:
        raise ValueError(f"Invalid adjust keys: {extra}")
    for key in keys:
        if key in kwargs:
            raise ValueError(f"Cannot use {key!r} in adjust and as an option")
    wanted: list[dict[str, Any]] = [{} for _ in views]
    if "select" in keys:
        common = set(views[0].variables)
        for v in views[1:]:
            common &= set(v.variables)
        if not common:
            raise ValueError("No common variables")
        for w, v in zip(wanted, views, strict=True):
            if set(v.variables) != common:
                w["select"] = sorted(common)
    dates = views[0].dates
    for v in views:
        dates = np.intersect1d(dates, v.dates)
    for key, pick, at in (("start", np.min, 0), ("end", np.max, -1)):
        if key in keys:
            if dates.size == 0:
                raise ValueError("adjust: the datasets have no dates in common")
            bound = pick(dates).astype(object)
            for w, v in zip(wanted, views, strict=True):
                if bound != v.dates[at]:
                    w[key] = bound
    if "frequency" in keys:
        coarsest = max(v.frequency for v in views)
        for w, v in zip(wanted, views, strict=True):
            if v.frequency != coarsest:
                w["frequency"] = coarsest
    return [apply_options(v, w, options) if w else v for v, w in zip(views, wanted, strict=True)]


def _combined(how: str, views: list[Dataset]) -> Any:
    """anemoi's Join (with its overlay) or Concat of the views' chains."""
    nodes = [v.meta for v in views]
    if any(n is None for n in nodes):
        return None
    build = {"join": md.join, "concat": md.concat, "ensemble": md.ensemble, "grids": md.grids}
    return build[how](nodes)


def _wrap(view: Dataset, before: Dataset, build: Any, *args: Any) -> Dataset:
    """`view` (made from `before` by an option) described by anemoi's wrapper
    `build(before's chain, *args)`."""
    node = before.meta
    return view.with_meta(None if node is None else build(node, *args))


def _missing_texts(view: Dataset, dates: Any) -> list[str]:
    """anemoi's MissingDates.missing_dates: the dates made missing, sorted."""
    chosen = []
    for d in dates if isinstance(dates, (list, tuple, set)) else [dates]:
        if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
            chosen.append(view.dates[int(d)])
        else:
            want = np.datetime64(d, "s")
            chosen.extend(x for x in view.dates if x == want)
    return [str(np.datetime64(x, "s")) for x in sorted(chosen)]


def open_one(item: Any, options: dict[str, Any]) -> Any:
    """A Dataset, or a TrajectoryView for a trajectories dataset."""
    if isinstance(item, (Dataset, TrajectoryView)):
        return item
    if isinstance(item, (str, os.PathLike)):
        storage_options = options.get("storage_options")
        group, location = open_anemoi_group(item, storage_options)
        if layout_of(group) == trajectories.LAYOUT:
            return TrajectoryView.from_store(TrajectoryStore(group, location, storage_options))
        opened = (group, location)
        return Dataset.from_store(AnemoiStore(item, storage_options, opened=opened))
    if isinstance(item, dict):
        return open_view((), item, options)
    if isinstance(item, (list, tuple)):
        return open_view(tuple(item), {}, options)
    raise TypeError(f"cannot open an anemoi dataset from {type(item).__name__}")


def apply_options(view: Any, kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
    if isinstance(view, TrajectoryView):
        return trajectories.apply_options(view, kwargs)
    _refuse(kwargs)
    if "axis" in kwargs:
        raise TypeError("open_dataset(axis=) goes with ensemble=")
    kw = dict(kwargs)
    name = kw.pop("name", None)
    if "fill_missing_dates" in kw:
        method, closest = kw.pop("fill_missing_dates"), kw.pop("closest", "up")
        view = _wrap(view.fill_missing(method, closest), view, md.fill_missing, method, closest)
    elif "closest" in kw:
        raise ValueError("closest= goes with fill_missing_dates='closest'")
    if "start" in kw or "end" in kw:
        start, end = kw.pop("start", None), kw.pop("end", None)
        positions = date_indices(view.dates, start, end)
        view = _wrap(view.subset_dates(start, end), view, md.subset, positions,
                     {"start": start, "end": end})  # fmt: skip
    if "frequency" in kw:
        frequency = kw.pop("frequency")
        taken = view.subset_frequency(frequency)  # checks the frequency
        positions = range(0, len(view), seconds(frequency) // seconds(view.frequency))
        view = _wrap(taken, view, md.subset, positions, {"frequency": frequency})
    for key in ("select", "drop", "reorder"):
        if key in kw:
            value = kw.pop(key)
            chosen = getattr(view, key)(value)
            index = view.name_to_index
            positions = [index[v] for v in chosen.variables]
            view = _wrap(chosen, view, md.select, positions, {key: value})
    if "rename" in kw:
        mapping = kw.pop("rename")
        view = _wrap(view.rename(mapping), view, md.rename, mapping)
    if "statistics" in kw:
        other = open_one(kw.pop("statistics"), options)
        stats = view.with_statistics(other.select(view.variables))
        view = stats.with_meta(
            None if view.meta is None or other.meta is None
            else md.statistics(view.meta, other.meta)
        )  # fmt: skip
    if "thinning" in kw or "method" in kw:
        every, method = kw.pop("thinning", None), kw.pop("method", None)
        thinned = view.thinning(every, method)
        if every is not None:
            view = _wrap(thinned, view, md.thinning, every, method or "every-nth",
                         thinned.shape[3])  # fmt: skip
    offsets = {"number": 1, "numbers": 1, "member": 0, "members": 0}
    chosen_members: list[int] = []
    for key, offset in offsets.items():
        if key in kw:
            value = kw.pop(key)
            values = value if isinstance(value, (list, tuple)) else [value]
            chosen_members += [int(v) - offset for v in values]
    if any(k in kwargs for k in offsets):
        view = _wrap(view.members(chosen_members), view, md.number, chosen_members)
    if "set_missing_dates" in kw:
        dates = kw.pop("set_missing_dates")
        texts = _missing_texts(view, dates)
        view = _wrap(view.set_missing(dates), view, md.missing_dates, texts)
    policy = kw.pop("missing_dates", "raise")
    if policy not in MISSING_POLICIES:
        raise ValueError(f"missing_dates must be one of {MISSING_POLICIES}, got {policy!r}")
    if policy == "skip":
        view = view.skip_missing()  # fastchunk's own: no anemoi metadata
    assert not kw, kw
    if name is not None:
        view = view._with(name=name, meta=view.meta)
    return view
