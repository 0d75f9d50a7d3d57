"""Trajectory datasets: anemoi-datasets' "trajectories" layout, forecasts
kept as they were run. "data" is 5-D (base_dates, variables, ensembles,
steps, cells): one row per forecast initialisation (the base dates, an
array "base_dates"), the lead times along the steps axis (an array "steps").
anemoi-training's TrajectoryDataset reads one base date at a time,
`ds[i]` -> (variables, ensembles, steps, cells).

The options keep anemoi-datasets 0.5.47's names and meanings: `start`/`end`
(the valid-time envelope: a base date is kept when all its steps lie in
[start, end]), `base_start`/`base_end` (the base dates themselves),
`base_frequency`, `steps` (lead times in hours), `step_start`/`step_end`/
`step_frequency`, and `select`/`drop`/`reorder`. They are applied in
anemoi's order whatever order they are given in; every other option is
refused by name (UnsupportedError). metadata() is anemoi's: the view keeps
the chain of wrappers anemoi builds (TrajectoriesZarr, Subset, Select,
StepSubset) and renders it as they do."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk._indexing import orthogonalize, shape_result
from fastchunk.anemoi.dates import as_date, as_timedelta, frequency_string, seconds
from fastchunk.anemoi.metadata import ANEMOI_DATASETS_RELEASE, tidy
from fastchunk.anemoi.store import STATISTICS, member_array, open_anemoi_group
from fastchunk.anemoi.view import MissingDateError
from fastchunk.array import Array
from fastchunk.errors import MetadataError, UnsupportedError
from fastchunk.group import Group

LAYOUT = "trajectories"

# The options a trajectory view builds, in the order anemoi applies them.
BUILT = (
    "start", "end", "frequency", "select", "drop", "reorder", "steps", "step_start", "step_end",
    "step_frequency", "base_start", "base_end", "base_frequency", "name",
)  # fmt: skip
# Options only trajectory datasets take (a gridded view refuses them).
ONLY = ("steps", "step_start", "step_end", "step_frequency", "base_start", "base_end",
        "base_frequency")  # fmt: skip


def _hours(value: Any) -> datetime.timedelta:
    """A step as anemoi takes it: a whole number of hours (int or digits)."""
    return datetime.timedelta(hours=int(value))


def _td(value: np.timedelta64) -> datetime.timedelta:
    return datetime.timedelta(seconds=int(value.astype("timedelta64[s]").astype(np.int64)))


def _text(d: np.datetime64) -> str:
    return str(np.datetime64(d, "s"))


class TrajectoryStore:
    """The arrays and attributes of one trajectories dataset, read once."""

    def __init__(
        self, group: Group, location: str, storage_options: dict[str, Any] | None = None
    ) -> None:
        self.group, self.location, self.storage_options = group, location, storage_options
        self.attrs = attrs = group.attrs
        data = self._array("data")
        if data.ndim != 5:
            raise MetadataError(
                f"{location}: a trajectories dataset's 'data' is 5-d (base_dates, variables, "
                f"ensembles, steps, cells), got {data!r}"
            )
        self.data: Array = data
        self.base_dates = np.asarray(self._array("base_dates")[...]).astype("datetime64[s]")
        self.steps = np.asarray(self._array("steps")[...]).astype("timedelta64[s]")
        if self.base_dates.shape != (data.shape[0],) or self.steps.shape != (data.shape[3],):
            raise MetadataError(
                f"{location}: {self.base_dates.size} base dates and {self.steps.size} steps for "
                f"'data' of shape {data.shape}"
            )
        missing = {np.datetime64(d, "s") for d in attrs.get("missing_dates", [])}
        self.missing_rows = np.flatnonzero(np.isin(self.base_dates, list(missing))).astype(np.int64)
        if "variables" in attrs:
            self.variables = [str(v) for v in attrs["variables"]]
        elif "name_to_index" in attrs:
            n2i = attrs["name_to_index"]
            self.variables = [k for k, _ in sorted(n2i.items(), key=lambda kv: kv[1])]
        else:
            raise MetadataError(f"{location}: attrs name neither 'variables' nor 'name_to_index'")
        if len(self.variables) != data.shape[1]:
            raise MetadataError(
                f"{location}: {len(self.variables)} variable names for {data.shape[1]} columns"
            )
        self._cache: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return self.location

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_reopen, (self.location, self.storage_options))

    def _array(self, name: str) -> Array:
        return member_array(self.group, self.location, name, "trajectories dataset")

    def read(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = np.asarray(self._array(name)[...])
        return self._cache[name]

    def has(self, name: str) -> bool:
        return name in self.group

    @property
    def base_frequency(self) -> datetime.timedelta:
        if "frequency" in self.attrs:
            return as_timedelta(self.attrs["frequency"])
        return _td(self.base_dates[1] - self.base_dates[0])

    def coordinate(self, name: str) -> np.ndarray:
        return self.read(name if self.has(name) else name[:-1])


def _reopen(location: str, storage_options: dict[str, Any] | None) -> TrajectoryStore:
    group, location = open_anemoi_group(location, storage_options)
    return TrajectoryStore(group, location, storage_options)


# ---------------------------------------------------------------- anemoi's wrappers


@dataclass(frozen=True, eq=False)
class Node:
    """One of anemoi's trajectory wrappers, with what the view shows through
    it: the store's base rows, variable columns and step indices, in order."""

    kind: str  # "store", "subset", "select", "stepsubset"
    store: TrajectoryStore
    rows: np.ndarray
    cols: np.ndarray
    steps: np.ndarray
    inner: Node | None = None
    indices: tuple[int, ...] = ()  # a Subset's or Select's positions in `inner`, a StepSubset's
    reason: dict[str, Any] | None = None

    # -- what anemoi's wrapper reports (forwarded where anemoi forwards it)
    @property
    def base_dates(self) -> np.ndarray:
        return self.store.base_dates[self.rows]

    @property
    def step_values(self) -> np.ndarray:
        return self.store.steps[self.steps]

    @property
    def variables(self) -> list[str]:
        return [self.store.variables[c] for c in self.cols]

    @property
    def shape(self) -> tuple[int, ...]:
        n = self.store.data.shape
        return (self.rows.size, self.cols.size, n[2], self.steps.size, n[4])

    @property
    def base_frequency(self) -> datetime.timedelta:
        if self.kind == "store":
            return self.store.base_frequency
        if self.kind == "subset":
            dates = self.base_dates
            if dates.size < 2:
                raise ValueError(
                    f"Cannot determine base_frequency with fewer than two base dates ({dates})."
                )
            return _td(dates[1] - dates[0])
        assert self.inner is not None
        return self.inner.base_frequency

    @property
    def step_frequency(self) -> datetime.timedelta | None:
        steps = self.step_values
        if steps.size < 2:
            return None
        diffs = np.diff(steps)
        return _td(diffs[0]) if np.all(diffs == diffs[0]) else None

    def envelope(self) -> tuple[np.datetime64, np.datetime64]:
        """start_date and end_date: the first and last valid times."""
        if self.kind in ("store", "subset"):
            base, steps = self.base_dates, self.step_values
            return base[0] + steps[0], base[-1] + steps[-1]
        assert self.inner is not None
        return self.inner.envelope()

    def trajectory_keys(self) -> dict[str, Any]:
        freq = self.step_frequency
        base = self.base_dates
        steps = self.step_values
        return {
            "base_frequency": frequency_string(self.base_frequency),
            "step_frequency": None if freq is None else frequency_string(freq),
            "base_start_date": _text(base[0]),
            "base_end_date": _text(base[-1]),
            "step_start": frequency_string(_td(steps[0])),
            "step_end": frequency_string(_td(steps[-1])),
        }

    def action(self) -> str:
        if self.kind == "store":
            missing = len(self.store.attrs.get("missing_dates", []))
            return "trajectorieszarrwithmissingdates" if missing else "trajectorieszarr"
        return self.kind

    def specific(self) -> dict[str, Any]:
        start, end = self.envelope()
        out: dict[str, Any] = {
            "action": self.action(),
            "variables": self.variables,
            "shape": list(self.shape),
            "frequency": None,
            "start_date": _text(start),
            "end_date": _text(end),
        }
        if self.kind == "store":
            data = self.store.data
            out.update(
                attrs=dict(self.store.attrs), chunks=[int(c) for c in data.chunks],
                dtype=str(data.dtype), path=self.store.location,
            )  # fmt: skip
        else:
            assert self.inner is not None
            out["forward"] = self.inner.specific()
            if self.kind == "subset":
                out.update(indices=list(self.indices), reason=dict(self.reason or {}))
            elif self.kind == "select":
                out.update(reason=dict(self.reason or {}), indices=list(self.indices))
            else:
                out["step_indices"] = list(self.indices)
        out.update(self.trajectory_keys())
        return out

    # -- anemoi's wrappers on top of this one
    def subset(self, positions: list[int], reason: dict[str, Any]) -> Node:
        """anemoi's trajectories Subset; a Subset of a Subset is one Subset
        (indices composed, the new reason kept)."""
        inner, indices = self, [int(p) for p in positions]
        while inner.kind == "subset":
            assert inner.inner is not None
            indices = [inner.indices[i] for i in indices]
            inner = inner.inner
        rows = inner.rows[np.asarray(indices, dtype=np.int64)]
        reason = {k: v for k, v in reason.items() if v is not None}
        return replace(inner, kind="subset", rows=rows, inner=inner, indices=tuple(indices),
                       reason=reason)  # fmt: skip

    def select(self, positions: list[int], reason: dict[str, Any]) -> Node:
        """anemoi's Select; a Select of a Select is one Select (indices
        composed, the inner reasons winning)."""
        if not positions:
            raise ValueError("select: no variables left")
        inner, indices, reason = self, [int(p) for p in positions], dict(reason)
        while inner.kind == "select":
            assert inner.inner is not None
            indices = [inner.indices[i] for i in indices]
            reason.update(inner.reason or {})
            inner = inner.inner
        cols = inner.cols[np.asarray(indices, dtype=np.int64)]
        return replace(inner, kind="select", cols=cols, inner=inner, indices=tuple(indices),
                       reason=reason)  # fmt: skip

    def step_subset(self, positions: list[int]) -> Node:
        steps = self.steps[np.asarray(positions, dtype=np.int64)]
        return replace(self, kind="stepsubset", steps=steps, inner=self,
                       indices=tuple(int(p) for p in positions), reason=None)  # fmt: skip


# ---------------------------------------------------------------- the view


class TrajectoryView:
    """A read-only view of a trajectories dataset, as anemoi-datasets'
    open_dataset gives one: shape (base_dates, variables, ensembles, steps,
    cells); `ds[i]` the (variables, ensembles, steps, cells) of forecast i."""

    def __init__(
        self, node: Node, arguments: dict[str, Any] | None = None, name: str | None = None
    ) -> None:
        self._node = node
        self._arguments = arguments
        self._name = name
        self._store = node.store
        self._missing_mask = np.isin(node.rows, node.store.missing_rows)

    @classmethod
    def from_store(cls, store: TrajectoryStore) -> TrajectoryView:
        n = store.data.shape
        node = Node(
            "store", store, np.arange(n[0], dtype=np.int64), np.arange(n[1], dtype=np.int64),
            np.arange(n[3], dtype=np.int64),
        )  # fmt: skip
        return cls(node)

    # -- what open_dataset and its options need
    @property
    def meta(self) -> Node:
        return self._node

    def with_meta(self, meta: Any, arguments: dict[str, Any] | None = None) -> TrajectoryView:
        return TrajectoryView(meta, arguments, self._name)

    def _with_node(self, node: Node) -> TrajectoryView:
        return TrajectoryView(node, None, self._name)

    def __repr__(self) -> str:
        base = self.base_dates
        span = f"{base[0]}..{base[-1]}" if base.size else "no base dates"
        return (
            f"<fastchunk.anemoi.TrajectoryView {self._store.location} {span} shape={self.shape} "
            f"missing={int(self._missing_mask.sum())}>"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (TrajectoryView, (self._node, self._arguments, self._name))

    # -- anemoi's properties
    @property
    def name(self) -> str | None:
        return self._name

    def __len__(self) -> int:
        return int(self._node.rows.size)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        return self._node.shape  # type: ignore[return-value]

    @property
    def dtype(self) -> np.dtype:
        return self._store.data.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self._store.data.chunks)

    @property
    def dates(self) -> np.ndarray:
        raise AttributeError(
            "Trajectories datasets have two time axes. "
            "Use 'base_dates' for analysis times and 'steps' for forecast lead times."
        )

    @property
    def frequency(self) -> None:
        """None: a trajectory dataset has two, base_frequency and step_frequency."""
        return None

    @property
    def base_dates(self) -> np.ndarray:
        return self._node.base_dates

    def base_date(self, index: int) -> np.datetime64:
        return self.base_dates[index]

    @property
    def base_start_date(self) -> np.datetime64:
        return self.base_dates[0]

    @property
    def base_end_date(self) -> np.datetime64:
        return self.base_dates[-1]

    @property
    def base_frequency(self) -> datetime.timedelta:
        return self._node.base_frequency

    @property
    def steps(self) -> np.ndarray:
        return self._node.step_values

    @property
    def step_start(self) -> datetime.timedelta:
        return _td(self.steps[0])

    @property
    def step_end(self) -> datetime.timedelta:
        return _td(self.steps[-1])

    @property
    def step_frequency(self) -> datetime.timedelta | None:
        """The interval between steps; None when they are not evenly spaced
        (or there is only one)."""
        return self._node.step_frequency

    @property
    def start_date(self) -> np.datetime64:
        return self._node.envelope()[0]

    @property
    def end_date(self) -> np.datetime64:
        return self._node.envelope()[1]

    @property
    def variables(self) -> list[str]:
        return self._node.variables

    @property
    def name_to_index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.variables)}

    @property
    def missing(self) -> set[int]:
        """Positions of the base dates the dataset declares missing."""
        return set(np.flatnonzero(self._missing_mask).tolist())

    @property
    def statistics(self) -> dict[str, np.ndarray]:
        return {k: self._store.read(k)[self._node.cols] for k in STATISTICS}

    def statistics_tendencies(self, delta: Any = None) -> dict[str, np.ndarray]:
        """The tendency statistics over `delta` (default: the step frequency)."""
        if delta is None:
            # anemoi's default: the Subsets and StepSubsets pass None on, a
            # Select or the store take the step frequency of the steps they see
            node = self._node
            while node.kind in ("subset", "stepsubset"):
                assert node.inner is not None
                node = node.inner
            delta = node.step_frequency
            if delta is None:
                raise ValueError(
                    "Cannot use a default tendencies delta: the steps of this dataset are not "
                    "uniformly spaced. Pass 'delta' explicitly."
                )
        if isinstance(delta, int):
            delta = f"{delta}h"
        step = frequency_string(as_timedelta(delta))
        names = {k: f"statistics_tendencies_{step}_{k}" for k in STATISTICS}
        for n in names.values():
            if not self._store.has(n):
                raise KeyError(f"{self._store.location}: no {n!r}")
        return {k: self._store.read(n)[self._node.cols] for k, n in names.items()}

    @property
    def latitudes(self) -> np.ndarray:
        return self._store.coordinate("latitudes")

    @property
    def longitudes(self) -> np.ndarray:
        return self._store.coordinate("longitudes")

    @property
    def grids(self) -> tuple[int, ...]:
        return (self.shape[4],)

    @property
    def field_shape(self) -> tuple[int, ...]:
        shape = self._store.attrs.get("field_shape")
        return (self.shape[4],) if shape is None else tuple(shape)

    @property
    def resolution(self) -> Any:
        return self._store.attrs.get("resolution")

    @property
    def variables_metadata(self) -> dict[str, Any]:
        meta = dict(self._store.attrs.get("variables_metadata", {}))
        node: Node | None = self._node
        while node is not None and node.kind != "select":
            node = node.inner
        if node is None:  # anemoi's Select keeps the metadata of its variables only
            return meta
        chosen = set(self.variables)
        return {k: v for k, v in meta.items() if k in chosen}

    def supporting_arrays(self) -> dict[str, np.ndarray]:
        return {"latitudes": self.latitudes, "longitudes": self.longitudes}

    def metadata(self) -> dict[str, Any]:
        """anemoi-datasets 0.5.47's metadata() of the same view."""
        node = self._node
        start, end = node.envelope()
        md = {
            "version": ANEMOI_DATASETS_RELEASE,
            "arguments": self._arguments if self._arguments is not None else {},
            "specific": node.specific(),
            "frequency": None,
            "variables": self.variables,
            "variables_metadata": self.variables_metadata,
            "shape": list(self.shape),
            "dtype": str(self.dtype),
            "start_date": _text(start),
            "end_date": _text(end),
            "name": self._name,
            **node.trajectory_keys(),
            "sources": [],
            "supporting_arrays": ["latitudes", "longitudes"],
        }
        return json.loads(json.dumps(tidy(md)))

    # -- reading
    def __getitem__(self, key: Any) -> np.ndarray:
        sel = orthogonalize(key, self.shape)
        out = _core.empty(sel.counts, self.dtype)
        if out.size:
            positions = np.asarray(sel.indices[0], dtype=np.int64)
            hit = self._missing_mask[positions]
            if hit.any():
                n = int(positions[np.argmax(hit)])
                raise MissingDateError(
                    f"Base date {self.base_dates[n]} is missing (index={n}) in {self!r}"
                )
            self.read_orthogonal(sel.indices, out)
        result = shape_result(out, sel)
        return result[()] if result.ndim == 0 else result

    def read_orthogonal(self, indices: list[Any], out: np.ndarray) -> None:
        """Low level: one int64 vector (or a range) per axis (base dates,
        variables, ensembles, steps, cells), in range; `out` C-contiguous of
        their lengths. Missing base dates are read as stored, unchecked."""
        node = self._node
        rows = node.rows[np.asarray(indices[0], dtype=np.int64)]
        cols = node.cols[np.asarray(indices[1], dtype=np.int64)]
        steps = node.steps[np.asarray(indices[3], dtype=np.int64)]
        members, cells = indices[2], indices[4]
        if type(members) is not range:
            members = np.asarray(members, dtype=np.int64)
        if type(cells) is not range:
            cells = np.asarray(cells, dtype=np.int64)
        self._store.data.read_orthogonal([rows, cols, members, steps, cells], out)


# ---------------------------------------------------------------- options


def _step_index(view: TrajectoryView, step: Any) -> int:
    target = _hours(step)
    for i, s in enumerate(view.steps):
        if _td(s) == target:
            return i
    raise ValueError(f"step={step}h not found in dataset steps: {view.steps}")


def _step_range(view: TrajectoryView, start: Any, end: Any, every: Any) -> list[int]:
    td = [_td(s) for s in view.steps]
    lo = _hours(start) if start is not None else td[0]
    hi = _hours(end) if end is not None else td[-1]
    freq = _hours(every) if every is not None else None
    chosen = [i for i, s in enumerate(td) if lo <= s <= hi]
    if freq is not None and len(chosen) > 1:
        first = td[chosen[0]]
        chosen = [i for i in chosen if (td[i] - first) % freq == datetime.timedelta(0)]
    if not chosen:
        raise ValueError(
            f"No steps found in range [{lo}, {hi}] with frequency {freq}. Available steps: {td}"
        )
    return chosen


def _envelope_positions(view: TrajectoryView, start: Any, end: Any) -> list[int]:
    """open_dataset(start=, end=) on a trajectory dataset: the base dates
    whose whole step range lies within [start, end] (valid times)."""
    base, steps = view.base_dates, view.steps
    first, last = base + steps[0], base + steps[-1]
    lo = first[0] if start is None else as_date(start, first, last=False)
    hi = last[-1] if end is None else as_date(end, last, last=True)
    low, high = lo - steps[0], hi - steps[-1]
    return np.flatnonzero((base >= low) & (base <= high)).tolist()


def _variables(view: TrajectoryView, key: str, value: Any) -> list[int]:
    """Positions in the view's variables chosen by select=, drop= or reorder=."""
    index = view.name_to_index
    if key == "select":
        if isinstance(value, set):
            value = [v for v in index if v in value]
        names = list(value) if isinstance(value, (list, tuple)) else [value]
        for v in names:
            if v not in index:
                raise ValueError(f"select: unknown variable: {v}, available: {list(index)}")
        return [index[v] for v in names]
    if key == "drop":
        names = list(value) if isinstance(value, (list, tuple, set)) else [value]
        unknown = set(names) - set(index)
        if unknown:
            raise ValueError(f"drop: unknown variables: {unknown}")
        return sorted(i for v, i in index.items() if v not in names)
    if value == "sort":
        return [index[k] for k in sorted(index)]
    order = {k: i for i, k in enumerate(value)} if isinstance(value, (list, tuple)) else value
    positions = [index[k] for k, _ in sorted(order.items(), key=lambda kv: kv[1])]
    if set(positions) != set(range(len(index))):
        raise ValueError(f"reorder: {value!r} does not name every variable once")
    return positions


def refuse(kwargs: dict[str, Any]) -> None:
    for key in kwargs:
        if key not in BUILT:
            raise UnsupportedError(
                f"open_dataset option {key!r} on a trajectories dataset: fastchunk does not "
                f"support it there; supported: {', '.join(BUILT)}"
            )


def apply_options(view: TrajectoryView, kwargs: dict[str, Any]) -> TrajectoryView:
    """anemoi's _subset for a trajectories dataset, in anemoi's order."""
    refuse(kwargs)
    kw = dict(kwargs)
    name = kw.pop("name", None)
    node = view.meta
    if "start" in kw or "end" in kw:
        start, end = kw.pop("start", None), kw.pop("end", None)
        if node.kind not in ("store", "subset"):
            raise UnsupportedError(
                f"open_dataset(start=, end=) after {node.kind}: anemoi-datasets has no valid-time "
                "envelope there (use base_start=, base_end=)"
            )
        positions = _envelope_positions(view, start, end)
        view = view._with_node(node.subset(positions, {"start": start, "end": end}))
    if "frequency" in kw:
        raise ValueError(
            "'frequency' is not supported for trajectories datasets. Use 'base_frequency' for "
            "the base-date interval or 'step_frequency' for the step interval."
        )
    for key in ("select", "drop", "reorder"):
        if key in kw:
            value = kw.pop(key)
            positions = _variables(view, key, value)
            view = view._with_node(view.meta.select(positions, {key: value}))
    if "steps" in kw:
        value = kw.pop("steps")
        values = value if isinstance(value, (list, tuple)) else [value]
        view = view._with_node(view.meta.step_subset([_step_index(view, s) for s in values]))
    if any(k in kw for k in ("step_start", "step_end", "step_frequency")):
        positions = _step_range(
            view, kw.pop("step_start", None), kw.pop("step_end", None),
            kw.pop("step_frequency", None),
        )  # fmt: skip
        view = view._with_node(view.meta.step_subset(positions))
    if "base_start" in kw or "base_end" in kw:
        start, end = kw.pop("base_start", None), kw.pop("base_end", None)
        base = view.base_dates
        lo = base[0] if start is None else as_date(start, base, last=False)
        hi = base[-1] if end is None else as_date(end, base, last=True)
        positions = np.flatnonzero((base >= lo) & (base <= hi)).tolist()
        reason = {"base_start": start, "base_end": end}
        view = view._with_node(view.meta.subset(positions, reason))
    if "base_frequency" in kw:
        every = kw.pop("base_frequency")
        wanted, have = seconds(every), seconds(view.base_frequency)
        if wanted % have:
            raise ValueError(
                f"Requested base_frequency {every} is not a multiple of the dataset "
                f"base_frequency {view.base_frequency}."
            )
        positions = list(range(0, len(view), wanted // have))
        view = view._with_node(view.meta.subset(positions, {"base_frequency": every}))
    assert not kw, kw
    if name is not None:
        view = TrajectoryView(view.meta, None, name)
    return view
