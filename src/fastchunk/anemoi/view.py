"""The view: one anemoi dataset, or a combination of several, with anemoi's
names (variables, dates, statistics, missing) and fastchunk's reads."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk._indexing import as_run, orthogonalize, shape_result
from fastchunk.anemoi import metadata
from fastchunk.anemoi.dates import as_timedelta, date_indices, seconds
from fastchunk.anemoi.parts import (
    FILL_INTERPOLATE,
    FILL_NAN,
    FILL_STATISTIC,
    Part,
    segment_length,
)
from fastchunk.anemoi.store import AnemoiStore
from fastchunk.errors import FastchunkError, MetadataError, UnsupportedError


class MissingDateError(FastchunkError):
    """A read touched a date the dataset declares missing (anemoi's
    MissingDateError); open_dataset(missing_dates="skip") or
    fill_missing_dates=... are the other policies."""


Statistics = dict[str, np.ndarray] | Exception  # an exception: read when asked for


@dataclass(frozen=True)
class ViewState:
    """Everything a view is; every option makes a new one with `replace`."""

    segments: list[list[Part]]
    dates: np.ndarray  # datetime64[s], one per date of the view
    variables: list[str]
    statistics: Statistics
    variables_metadata: dict[str, Any]
    frequency: datetime.timedelta | None  # None: from the first two dates (a date subset)
    members: np.ndarray  # int64: the store's ensemble members the view reads
    forced: np.ndarray  # bool per date: made missing by set_missing_dates
    first: AnemoiStore  # the store whose grid, attributes and metadata the view reports
    stores: list[AnemoiStore]
    name: str | None = None
    # Gridpoints of the stores the view reads (a thinning), None: all of them,
    # the field shape they form, and the masks anemoi reports beside them.
    grid: np.ndarray | None = None
    field_shape: tuple[int, ...] | None = None
    grid_masks: tuple[tuple[str, np.ndarray], ...] = ()
    # After grids=[...] or cutout=[...]: the combined grid's latitudes and
    # longitudes (the parts map its gridpoints to their stores'), the sizes
    # of the grids it is made of, and the views it was made of (anemoi's
    # input sources, which metadata() and supporting_arrays() list).
    coords: tuple[np.ndarray, np.ndarray] | None = None
    grid_sizes: tuple[int, ...] | None = None
    sources: tuple[Any, ...] = ()
    # anemoi's chain of wrappers for this view (metadata.Node), built by the
    # options (None: a view made otherwise, which has no anemoi metadata),
    # and the arguments open_dataset was called with.
    meta: Any = None
    arguments: dict[str, Any] | None = None


class Dataset:
    """A read-only view of anemoi datasets, as `anemoi.datasets.open_dataset`
    gives one: shape (dates, variables, ensembles, gridpoints), `ds[i]` the
    fields of date i. Made by `fastchunk.anemoi.open_dataset`; every option
    makes a new view, the stores are shared. It is a sample source for
    `fastchunk.torch` (ArrayDataset, Loader)."""

    def __init__(self, state: ViewState) -> None:
        self._s = state
        segments, dates, forced = state.segments, state.dates, state.forced
        lengths = [segment_length(s) for s in segments]
        self._starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._seg_of = np.repeat(np.arange(len(segments), dtype=np.int64), lengths)
        self._segments = segments
        self._dates = dates
        self._variables = state.variables
        self._stats = state.statistics
        self._vmeta = state.variables_metadata
        self._members = state.members
        self._forced = forced
        self._first = state.first
        self._stores = state.stores
        n = int(self._starts[-1])
        if dates.shape != (n,) or forced.shape != (n,):
            raise AssertionError("view dates out of step with its segments")
        bad = forced.copy()
        for s, parts in enumerate(segments):
            lo, hi = self._starts[s], self._starts[s + 1]
            for p in parts:
                bad[lo:hi] |= p.missing()
        self._missing = np.flatnonzero(bad).astype(np.int64)
        self._missing_mask = bad
        # Whole axes as runs: the core plans them without per-point tables.
        self._whole = [range(k) for k in self.shape[1:]]
        self._whole_columns: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_store(cls, store: AnemoiStore) -> Dataset:
        n, nvars, nens, _ = store.data.shape
        part = Part(
            store, np.arange(n, dtype=np.int64), np.arange(nvars, dtype=np.int64),
            np.arange(nvars, dtype=np.int64),
        )  # fmt: skip
        return cls(
            ViewState(
                segments=[[part]] if n else [],
                dates=store.dates.copy(),
                variables=list(store.variables),
                statistics=_store_statistics(store),
                variables_metadata=store.variables_metadata,
                frequency=store.frequency,
                members=np.arange(nens, dtype=np.int64),
                forced=np.zeros(n, dtype=bool),
                first=store,
                stores=[store],
                meta=metadata.store_node(store),
            )
        )

    def _with(self, **changes: Any) -> Dataset:
        # A changed view is no longer what its anemoi metadata describes:
        # the options (options.py) give it its own (with_meta).
        changes.setdefault("meta", None)
        changes.setdefault("arguments", None)
        return Dataset(replace(self._s, **changes))

    def with_meta(self, meta: Any, arguments: dict[str, Any] | None = None) -> Dataset:
        """This view, described to metadata() by `meta` (a metadata.Node)."""
        return Dataset(replace(self._s, meta=meta, arguments=arguments))

    @property
    def meta(self) -> Any:
        return self._s.meta

    def metadata(self) -> dict[str, Any]:
        """anemoi-datasets' metadata() of the same view: what anemoi-training
        stores in its checkpoints and anemoi-inference reads back (the format
        of anemoi-datasets 0.5.47)."""
        if self._s.meta is None:
            raise UnsupportedError(
                f"{self!r} was not made by open_dataset's options alone (a view's methods, or "
                "missing_dates='skip', which anemoi-datasets does not have): it has no anemoi "
                "metadata"
            )
        return metadata.render(self, self._s.meta, self._s.arguments)

    @property
    def name(self) -> str | None:
        return self._s.name

    # ------------------------------------------------------------ anemoi's properties
    def __len__(self) -> int:
        return int(self._dates.size)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        if self._s.grid is not None:
            grid = int(self._s.grid.size)
        elif self._s.coords is not None:
            grid = int(self._s.coords[0].size)
        else:
            grid = self._first.data.shape[3]
        return (len(self), len(self._variables), int(self._members.size), grid)

    @property
    def dtype(self) -> np.dtype:
        return self._first.data.dtype

    @property
    def dates(self) -> np.ndarray:
        return self._dates.copy()

    @property
    def start_date(self) -> np.datetime64:
        return self._dates[0]

    @property
    def end_date(self) -> np.datetime64:
        return self._dates[-1]

    @property
    def frequency(self) -> datetime.timedelta:
        if self._s.frequency is not None:
            return self._s.frequency
        if self._dates.size < 2:
            raise ValueError(
                "cannot determine the frequency of a subset with fewer than two dates "
                f"({self._dates})"
            )
        return as_timedelta(self._dates[1] - self._dates[0])

    @property
    def variables(self) -> list[str]:
        return list(self._variables)

    @property
    def name_to_index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self._variables)}

    @property
    def missing(self) -> set[int]:
        """Positions (in this view) of the dates the datasets declare missing."""
        return set(self._missing.tolist())

    @property
    def missing_positions(self) -> np.ndarray:
        """`missing` as a sorted int64 array."""
        return self._missing.copy()

    @property
    def statistics(self) -> dict[str, np.ndarray]:
        """mean, stdev, maximum, minimum of the view's variables, in their order."""
        if isinstance(self._stats, Exception):
            raise self._stats
        return {k: v.copy() for k, v in self._stats.items()}

    # ------------------------------------------------------------ a sample source (fastchunk.torch)
    def sample_positions(self, labels: Any) -> np.ndarray:
        """Positions of the given dates among the view's."""
        wanted = np.asarray(list(labels), dtype="datetime64[s]")
        return np.flatnonzero(np.isin(self._dates, wanted)).astype(np.int64)

    def sample_steps(self) -> np.ndarray | None:
        """Each date in steps of the view's frequency from the first; None
        when the dates are evenly spaced."""
        if len(self) < 2:
            return None
        seconds_ = self._dates.astype("datetime64[s]").astype(np.int64)
        step = int(self.frequency.total_seconds())
        gaps = np.diff(seconds_)
        if (gaps == step).all():
            return None
        return (seconds_ - seconds_[0]) // step

    def channel_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        stats = self.statistics
        return stats["mean"], stats["stdev"]

    def describe(self) -> str:
        return ", ".join(s.location for s in self._stores)

    @property
    def latitudes(self) -> np.ndarray:
        lat = self._first.latitudes if self._s.coords is None else self._s.coords[0]
        return lat.copy() if self._s.grid is None else lat[self._s.grid]

    @property
    def longitudes(self) -> np.ndarray:
        lon = self._first.longitudes if self._s.coords is None else self._s.coords[1]
        return lon.copy() if self._s.grid is None else lon[self._s.grid]

    @property
    def grids(self) -> tuple[int, ...]:
        """The sizes of the grids along the gridpoints axis: one grid, or with
        a cutout the kept points of each limited-area grid then of the global one."""
        if self._s.grid_sizes is not None:
            return self._s.grid_sizes
        return (self.shape[3],)

    def own_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The view's own supporting arrays (anemoi's _supporting_arrays):
        its latitudes and longitudes, and the masks of its thinning or cutout."""
        arrays = {"latitudes": self.latitudes, "longitudes": self.longitudes}
        arrays.update((name, mask.copy()) for name, mask in self._s.grid_masks)
        return {prefix + k: v for k, v in arrays.items()}

    def source_names(self) -> list[str]:
        """The names anemoi gives the views this one was made of (grids=,
        cutout=): their own, else source0, source1, ..."""
        return [
            v.name if v.name is not None else f"source{i}" for i, v in enumerate(self._s.sources)
        ]

    @property
    def sources(self) -> list[Dataset]:
        return list(self._s.sources)

    def supporting_arrays(self) -> dict[str, np.ndarray]:
        """What anemoi-training stores beside a checkpoint (anemoi's
        supporting_arrays()): the grid's latitudes and longitudes, its masks,
        and those of the views a grids= or cutout= was made of."""
        arrays = self.own_arrays()
        for name, view in zip(self.source_names(), self._s.sources, strict=True):
            arrays.update(view.own_arrays(f"{name}/"))
        return arrays

    def statistics_tendencies(self, delta: Any = None) -> dict[str, np.ndarray]:
        """mean, stdev, maximum, minimum of the changes over `delta` (default:
        the view's frequency) of the view's variables, from the arrays
        `statistics_tendencies_<delta>_<name>` of the stores they come from;
        KeyError when a store lacks them, as anemoi's."""
        delta = self.frequency if delta is None else delta
        out: dict[str, np.ndarray] = {}
        for part in self._segments[0] if self._segments else []:
            if part.slots.size == 0:
                continue
            if part.grid_map is not None and part.grid_map[0] < 0:
                continue  # grids=, cutout=: anemoi's are those of the first grid's
            tend = part.store.statistics_tendencies(delta)
            for name, values in tend.items():
                if name not in out:
                    out[name] = np.full(len(self._variables), np.nan, dtype=values.dtype)
                out[name][part.slots] = values[part.cols]
        if not out:
            raise KeyError(f"{self!r}: no tendency statistics")
        return out

    @property
    def field_shape(self) -> tuple[int, ...]:
        if self._s.field_shape is not None:
            return self._s.field_shape
        return self._first.field_shape

    @property
    def resolution(self) -> Any:
        return self._first.resolution

    @property
    def variables_metadata(self) -> dict[str, Any]:
        return dict(self._vmeta)

    @property
    def constant_fields(self) -> list[str]:
        """What anemoi-datasets 0.5 reports: the constant fields of the first
        dataset opened, whatever variables the view selects or renames."""
        return list(self._first.constant_fields)

    @property
    def stores(self) -> list[AnemoiStore]:
        return list(self._stores)

    def __repr__(self) -> str:
        where = ", ".join(s.location for s in self._stores)
        span = f"{self._dates[0]}..{self._dates[-1]}" if len(self) else "no dates"
        return (
            f"<fastchunk.anemoi.Dataset {where} {span} shape={self.shape} "
            f"missing={self._missing.size}>"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Stores pickle by location and options; the view's tables as they are.
        return (Dataset, (self._s,))

    # ------------------------------------------------------------ reading
    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            return self._date(int(key))
        sel = orthogonalize(key, self.shape)
        out = _core.empty(sel.counts, self.dtype)
        if out.size:
            self.check_dates(np.asarray(sel.indices[0], dtype=np.int64), sel.indices[3])
            self.read_orthogonal(sel.indices, out)
        result = shape_result(out, sel)
        return result[()] if result.ndim == 0 else result

    def _date(self, n: int) -> np.ndarray:
        """ds[n]: the fields of one date, the common read, without the
        general selection machinery."""
        size = len(self)
        if not -size <= n < size:
            raise IndexError(f"index {n} is out of bounds for axis 0 with size {size}")
        n %= size
        if self._missing_mask[n]:
            self._report(n)
        out = _core.empty((1, *self.shape[1:]), self.dtype)
        self.read_orthogonal([np.array([n], dtype=np.int64), *self._whole], out)
        return out[0]

    def check_dates(self, positions: np.ndarray, grid: Any = None) -> None:
        """Raises MissingDateError naming the first missing date among
        `positions`. After grids= or cutout=, with the gridpoints `grid` the
        read asks for: only the dates missing in the datasets it reads (as
        anemoi reads only those)."""
        if self._missing.size == 0 or positions.size == 0:
            return
        hit = self._missing_mask[positions]
        if hit.any() and grid is not None and self._s.coords is not None:
            hit = self._forced[positions] | self._missing_among(positions, grid)
        if hit.any():
            self._report(int(positions[np.argmax(hit)]))

    def _missing_among(self, positions: np.ndarray, grid: Any) -> np.ndarray:
        """bool per position: missing in a part that holds one of `grid`."""
        bad = np.zeros(positions.size, dtype=bool)
        seg_of = self._seg_of[positions]
        for s in np.unique(seg_of).tolist():
            at = np.flatnonzero(seg_of == s)
            local = positions[at] - self._starts[s]
            for part in self._segments[s]:
                where, _ = part.gridpoints_for(grid)
                if where is None or where.size:
                    bad[at] |= part.missing()[local]
        return bad

    def _report(self, n: int) -> None:
        raise MissingDateError(
            f"Date {self._dates[n]} is missing (index={n}) in {self!r}; open the dataset with "
            "missing_dates='skip' or fill_missing_dates=... to read around it"
        )

    def read_orthogonal(self, indices: list[Any], out: np.ndarray) -> None:
        """Low level: one int64 vector (or a range) per axis (dates,
        variables, ensembles, gridpoints), in range; `out` C-contiguous of
        their lengths. Missing dates are read as the store holds them (NaN)
        without a check."""
        dates, slots, members = (np.asarray(i, dtype=np.int64) for i in indices[:3])
        grid = indices[3] if type(indices[3]) is range else np.asarray(indices[3], dtype=np.int64)
        if out.size == 0:
            return
        if self._s.grid is not None:  # the view's gridpoints -> the stores'
            grid = as_run(self._s.grid[np.asarray(grid, dtype=np.int64)])
        members = self._members[members]
        if len(self._segments) == 1:
            segs, local, seg_of = [0], dates, None
        else:
            seg_of = self._seg_of[dates]
            local = dates - self._starts[seg_of]
            segs = np.unique(seg_of).tolist()
        whole = indices[1] is self._whole[0]
        for s in segs:
            rows = np.flatnonzero(seg_of == s) if len(segs) > 1 else None
            loc = local if rows is None else local[rows]
            for k, part in enumerate(self._segments[s]):
                if whole:  # every variable, in order: the columns are known
                    key = (s, k)
                    if key not in self._whole_columns:
                        self._whole_columns[key] = part.columns_for(slots)
                    where, cols = self._whole_columns[key]
                else:
                    where, cols = part.columns_for(slots)
                mwhere, mcols = part.members_for(members)
                gwhere, gcols = part.gridpoints_for(grid)
                if where.size == 0 or mwhere.size == 0 or (gwhere is not None and not gwhere.size):
                    continue
                if rows is None and where.size == slots.size and mwhere.size == members.size:
                    if gwhere is None:
                        part.read(loc, cols, mcols, gcols, out)  # straight into `out`
                        continue
                    if gwhere[-1] - gwhere[0] + 1 == gwhere.size:  # one run of the grid
                        tmp = np.empty(out.shape[:3] + (gwhere.size,), dtype=out.dtype)
                        part.read(loc, cols, mcols, gcols, tmp)
                        out[..., int(gwhere[0]) : int(gwhere[-1]) + 1] = tmp
                        continue
                npoints = out.shape[3] if gwhere is None else gwhere.size
                tmp = np.empty((loc.size, where.size, mwhere.size, npoints), dtype=out.dtype)
                part.read(loc, cols, mcols, gcols, tmp)
                every = np.arange(loc.size) if rows is None else rows
                if gwhere is None:
                    out[np.ix_(every, where, mwhere)] = tmp
                else:
                    out[np.ix_(every, where, mwhere, gwhere)] = tmp

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self._first.data.chunks)

    # ------------------------------------------------------------ options
    def _take(
        self, positions: np.ndarray, keep_frequency: bool = False, dates: Any = None
    ) -> Dataset:
        positions = np.asarray(positions, dtype=np.int64)
        segments: list[list[Part]] = []
        if positions.size:
            seg_of = self._seg_of[positions]
            local = positions - self._starts[seg_of]
            breaks = np.flatnonzero(np.diff(seg_of)) + 1
            for run in np.split(np.arange(positions.size), breaks):
                parts = self._segments[int(seg_of[run[0]])]
                segments.append([p.take(local[run]) for p in parts])
        return self._with(
            segments=segments,
            dates=self._dates[positions] if dates is None else dates,
            forced=self._forced[positions],
            frequency=self._s.frequency if keep_frequency else None,
        )

    def subset_dates(self, start: Any = None, end: Any = None) -> Dataset:
        return self._take(date_indices(self._dates, start, end))

    def subset_frequency(self, frequency: Any) -> Dataset:
        want, have = seconds(frequency), int(self.frequency.total_seconds())
        if want <= 0 or want % have:
            raise ValueError(
                f"Requested frequency {frequency} is not a multiple of the dataset frequency "
                f"{self.frequency}"
            )
        return self._take(np.arange(0, len(self), want // have, dtype=np.int64))

    def _names(self, names: Any, what: str) -> list[str]:
        if isinstance(names, str):
            names = [names]
        names = list(names)
        unknown = [v for v in names if v not in self._variables]
        if unknown:
            raise ValueError(f"{what}: unknown variable(s) {unknown}, available: {self._variables}")
        return names

    def select(self, names: Any) -> Dataset:
        if isinstance(names, set):  # a set keeps the dataset's order
            names = [v for v in self._variables if v in names]
        index = self.name_to_index
        return self._select_positions([index[v] for v in self._names(names, "select")])

    def drop(self, names: Any) -> Dataset:
        gone = set(self._names(names if not isinstance(names, set) else list(names), "drop"))
        return self._select_positions([i for i, v in enumerate(self._variables) if v not in gone])

    def reorder(self, order: Any) -> Dataset:
        index = self.name_to_index
        if isinstance(order, str) and order == "sort":
            positions = [index[v] for v in sorted(self._variables)]
        else:
            if isinstance(order, (list, tuple)):
                order = {v: i for i, v in enumerate(order)}
            positions = [index[v] for v, _ in sorted(dict(order).items(), key=lambda kv: kv[1])]
        if sorted(positions) != list(range(len(self._variables))):
            raise ValueError(f"reorder must name every variable once: {self._variables}")
        return self._select_positions(positions)

    def _select_positions(self, positions: list[int]) -> Dataset:
        if not positions:
            raise ValueError("the selection leaves no variables")
        wanted = np.asarray(positions, dtype=np.int64)
        segments = []
        for parts in self._segments:
            new_parts = []
            for p in parts:
                # A part left with no columns stays: its missing dates are still
                # the view's (anemoi's Select forwards `missing` unchanged).
                where, cols = p.columns_for(wanted)
                new_parts.append(replace(p, cols=cols, slots=where))
            segments.append(new_parts)
        variables = [self._variables[i] for i in positions]
        kept = set(variables)
        return self._with(
            segments=segments,
            variables=variables,
            statistics=_map_statistics(lambda v: v[wanted], self._stats),
            variables_metadata={k: v for k, v in self._vmeta.items() if k in kept},
        )

    def rename(self, mapping: dict[str, str]) -> Dataset:
        self._names(list(mapping), "rename")
        return self._with(
            variables=[mapping.get(v, v) for v in self._variables],
            variables_metadata={mapping.get(k, k): v for k, v in self._vmeta.items()},
        )

    def thinning(self, every: Any, method: str | None = None) -> Dataset:
        """anemoi's `thinning=n`: every n-th point along both axes of a
        latitude x longitude field ("every-nth")."""
        if method not in (None, "every-nth"):
            raise UnsupportedError(
                f"open_dataset(thinning=, method={method!r}): fastchunk thins 'every-nth' only"
            )
        if every is None:
            return self
        if self._s.coords is not None:
            raise UnsupportedError(
                "open_dataset(thinning=) of a grids= or cutout= combination: fastchunk thins "
                "the datasets it is made of only (give thinning= inside their entries)"
            )
        shape = self.field_shape
        if len(shape) != 2:
            raise ValueError("Thinning only works latitude/longitude fields")
        n = int(every)
        if n < 1:
            raise ValueError(f"thinning must be a positive integer, got {every!r}")
        mask = np.zeros(shape, dtype=bool)
        mask[::n, ::n] = True
        mask = mask.reshape(-1)
        kept = np.flatnonzero(mask).astype(np.int64)
        grid = kept if self._s.grid is None else self._s.grid[kept]
        return self._with(
            grid=grid,
            field_shape=(len(range(0, shape[0], n)), len(range(0, shape[1], n))),
            grid_masks=(*self._s.grid_masks, ("thinning_mask", mask)),
        )

    def members(self, positions: list[int]) -> Dataset:
        chosen = sorted(set(positions))
        for n in chosen:
            if not 0 <= n < self._members.size:
                raise ValueError(
                    f"Member {n} is out of range. `number(s)` is one-based, "
                    "`member(s)` is zero-based."
                )
        return self._with(members=self._members[np.asarray(chosen, dtype=np.int64)])

    def with_statistics(self, other: Dataset) -> Dataset:
        if other.variables != self._variables:
            raise ValueError(f"Incompatible variables: {self._variables} and {other.variables}")
        return self._with(statistics=other.statistics)

    def set_missing(self, dates: Any) -> Dataset:
        forced = self._forced.copy()
        for d in dates if isinstance(dates, (list, tuple, set)) else [dates]:
            if isinstance(d, (int, np.integer)) and not isinstance(d, bool):
                if 0 <= int(d) < len(self):
                    forced[int(d)] = True
            else:
                forced |= self._dates == np.datetime64(d, "s")
        if not (forced & ~self._forced).any():
            raise ValueError(f"set_missing_dates: none of {dates} is a new date of the dataset")
        return self._with(forced=forced)

    def skip_missing(self) -> Dataset:
        keep = np.setdiff1d(np.arange(len(self), dtype=np.int64), self._missing)
        return self._take(keep, keep_frequency=True)

    def fill_missing(self, method: str, closest: str = "up") -> Dataset:
        missing = self._missing
        if missing.size == 0:
            return self
        n = len(self)
        present = np.setdiff1d(np.arange(n, dtype=np.int64), missing)
        if present.size == 0:
            raise MissingDateError(f"every date of {self!r} is missing: nothing to fill from")
        before = np.searchsorted(present, missing) - 1  # index into present, -1: none
        after = before + 1  # == present.size: none
        if method == "closest":
            positions = np.arange(n, dtype=np.int64)
            for m, b, a in zip(missing.tolist(), before.tolist(), after.tolist(), strict=True):
                lo = int(present[b]) if b >= 0 else None
                hi = int(present[a]) if a < present.size else None
                if lo is None or (
                    hi is not None and (hi - m < m - lo or (hi - m == m - lo and closest == "up"))
                ):
                    positions[m] = hi
                else:
                    positions[m] = lo
            filled = self._take(positions, keep_frequency=True, dates=self._dates)
            return filled._with(forced=np.zeros(n, dtype=bool))
        if method == "interpolate":
            if (before < 0).any() or (after >= present.size).any():
                first = (
                    int(missing[before < 0][0])
                    if (before < 0).any()
                    else int(missing[after >= present.size][0])
                )
                raise MissingDateError(
                    f"Cannot interpolate at index {first} ({self._dates[first]}): "
                    "the first or last date is missing"
                )
            lo, hi = present[before], present[after]
            if (self._seg_of[lo] != self._seg_of[missing]).any() or (
                self._seg_of[hi] != self._seg_of[missing]
            ).any():
                raise UnsupportedError(
                    "fill_missing_dates='interpolate' across concatenated datasets is not supported"
                )
            code = FILL_INTERPOLATE
            extra = {"lo": lo, "hi": hi, "alpha": (missing - lo) / (hi - lo)}
        elif method.lower() in ("nan", "nans"):
            code, extra = FILL_NAN, {}
        elif method in FILL_STATISTIC:
            code, extra = FILL_STATISTIC[method], {}
        else:
            raise ValueError(f"Invalid `fill_missing_dates` method {method!r}")
        segments = []
        for s, parts in enumerate(self._segments):
            start, stop = int(self._starts[s]), int(self._starts[s + 1])
            inside = (missing >= start) & (missing < stop)
            if not inside.any():
                segments.append(parts)
                continue
            at = missing[inside] - start
            new_parts = []
            for p in parts:
                fill = np.zeros(p.rows.size, np.int8) if p.fill is None else p.fill.copy()
                fill[at] = code
                rows, rows_b, alpha = p.rows, p.rows_b, p.alpha
                if code == FILL_INTERPOLATE:
                    rows = rows.copy()
                    rows_b = np.zeros(p.rows.size, np.int64) if rows_b is None else rows_b.copy()
                    alpha = np.zeros(p.rows.size) if alpha is None else alpha.copy()
                    rows[at] = p.rows[extra["lo"][inside] - start]
                    rows_b[at] = p.rows[extra["hi"][inside] - start]
                    alpha[at] = extra["alpha"][inside]
                new_parts.append(replace(p, rows=rows, fill=fill, rows_b=rows_b, alpha=alpha))
            segments.append(new_parts)
        return self._with(segments=segments, forced=np.zeros(n, dtype=bool))

    # ------------------------------------------------------------ combinations
    @staticmethod
    def join(views: list[Dataset]) -> Dataset:
        first = views[0]
        for v in views[1:]:
            _check_compatible("join", first, v)
            if len(v) != len(first) or not np.array_equal(v._dates, first._dates):
                raise ValueError(
                    f"join: incompatible dates: {first._dates[0]}..{first._dates[-1]} "
                    f"({len(first)}) and {v._dates[0]}..{v._dates[-1]} ({len(v)})"
                )
            if v.shape[2:] != first.shape[2:]:
                raise ValueError(f"join: incompatible shapes {first.shape} and {v.shape}")
        segments = _side_by_side(
            views, lambda v: len(v._variables),
            lambda v, q, offset: replace(q, slots=q.slots + offset),
        )  # fmt: skip
        variables = [name for v in views for name in v._variables]
        vmeta: dict[str, Any] = {}
        plain = set(variables)
        for v in views:
            for name, meta in v._vmeta.items():
                if name in plain:
                    vmeta[name] = meta
        forced = np.zeros(len(first), dtype=bool)
        for v in views:
            forced |= v._forced
        joined = first._with(
            segments=segments,
            variables=variables,
            statistics=_joined_statistics([v._stats for v in views]),
            variables_metadata=vmeta,
            forced=forced,
            stores=[s for v in views for s in v._stores],
        )
        # anemoi's overlay: a variable given twice comes from its last dataset,
        # in the place of its first.
        last: dict[str, int] = {}
        for i, name in enumerate(variables):
            last[name] = i
        if len(last) == len(variables):
            return joined
        return joined._select_positions(list(last.values()))._with(
            variables_metadata={k: vmeta[k] for k in last if k in vmeta}
        )

    @staticmethod
    def concat(views: list[Dataset]) -> Dataset:
        first = views[0]
        for v in views[1:]:
            _check_compatible("concat", first, v)
            if v._variables != first._variables or v.shape[1:] != first.shape[1:]:
                raise ValueError(
                    f"concat: incompatible variables or shapes: {first.variables} {first.shape} "
                    f"and {v.variables} {v.shape}"
                )
        step = np.timedelta64(int(first.frequency.total_seconds()), "s")
        for a, b in zip(views[:-1], views[1:], strict=True):
            if not (a._dates[-1] < b._dates[0]):
                raise ValueError(f"concat: overlapping dates: {a!r} and {b!r}")
            if a._dates[-1] + step != b._dates[0]:
                raise ValueError(
                    "Datasets must be sorted by dates, with no gaps: "
                    f"{a._dates[-1]} and {b._dates[0]} ({a!r} {b!r})"
                )
        return first._with(
            segments=[s for v in views for s in v._segments],
            dates=np.concatenate([v._dates for v in views]),
            forced=np.concatenate([v._forced for v in views]),
            stores=[s for v in views for s in v._stores],
        )

    @staticmethod
    def ensemble(views: list[Dataset]) -> Dataset:
        """anemoi's ensemble=[...]: the views' members side by side along the
        ensemble axis (same dates, variables and grid); the rest is the
        first view's."""
        first = views[0]
        for v in views[1:]:
            _check_compatible("ensemble", first, v)
            if not np.array_equal(v._dates, first._dates):
                raise ValueError(f"ensemble: incompatible dates of {first!r} and {v!r}")
            if v._variables != first._variables:
                raise ValueError(
                    f"ensemble: incompatible variables {first.variables} and {v.variables}"
                )
            if v.shape[3] != first.shape[3]:
                raise ValueError(f"ensemble: incompatible grids {first.shape} and {v.shape}")
        total = sum(v.shape[2] for v in views)

        def members(v: Dataset, q: Part, offset: int) -> Part:
            mapping = np.full(total, -1, dtype=np.int64)
            mine = v._members if q.member_map is None else q.member_map[v._members]
            mapping[offset : offset + mine.size] = mine
            return replace(q, member_map=mapping)

        segments = _side_by_side(views, lambda v: v.shape[2], members)
        forced = np.zeros(len(first), dtype=bool)
        for v in views:
            forced |= v._forced
        return first._with(
            segments=segments,
            members=np.arange(total, dtype=np.int64),
            forced=forced,
            stores=[s for v in views for s in v._stores],
        )

    @staticmethod
    def combine_grids(
        views: list[Dataset], keep: list[np.ndarray] | None = None, cutout: bool = False
    ) -> Dataset:
        """anemoi's grids=[...] (keep None: every gridpoint) or cutout=[...]
        (keep: the bool mask of the points kept of each view): the views'
        gridpoints one after the other along the grid axis. Dates, variables
        and members must agree; the rest is the first view's."""
        what = "cutout" if cutout else "grids"
        first = views[0]
        if len(views) < 2:
            raise ValueError(f"{what}= takes at least two datasets")
        for v in views[1:]:
            if v.frequency != first.frequency:
                raise ValueError(
                    f"{what}: incompatible frequencies {first.frequency} and {v.frequency}"
                )
            if len(v) != len(first) or not np.array_equal(v._dates, first._dates):
                raise ValueError(f"{what}: incompatible dates of {first!r} and {v!r}")
            if v._variables != first._variables:
                raise ValueError(
                    f"{what}: incompatible variables {first.variables} and {v.variables}"
                )
            if v.shape[:3] != first.shape[:3] or v.dtype != first.dtype:
                raise ValueError(f"{what}: incompatible shapes {first.shape} and {v.shape}")
        picks = [
            np.arange(v.shape[3], dtype=np.int64) if keep is None
            else np.flatnonzero(k).astype(np.int64)
            for v, k in zip(views, keep if keep is not None else views, strict=True)
        ]  # fmt: skip
        total = sum(p.size for p in picks)
        bounds = np.unique(np.concatenate([v._starts for v in views]))
        segments: list[list[Part]] = []
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            parts: list[Part] = []
            offset = 0
            for v, pick in zip(views, picks, strict=True):
                s = int(v._seg_of[lo])
                local = np.arange(lo, hi, dtype=np.int64) - v._starts[s]
                through = pick if v._s.grid is None else v._s.grid[pick]
                for p in v._segments[s]:
                    q = p.take(local)
                    grid_map = np.full(total, -1, dtype=np.int64)
                    grid_map[offset : offset + pick.size] = (
                        through if q.grid_map is None else q.grid_map[through]
                    )
                    members = v._members if q.member_map is None else q.member_map[v._members]
                    parts.append(replace(q, grid_map=grid_map, member_map=members))
                offset += pick.size
            segments.append(parts)
        forced = np.zeros(len(first), dtype=bool)
        for v in views:
            forced |= v._forced
        lat = np.concatenate([v.latitudes[p] for v, p in zip(views, picks, strict=True)])
        lon = np.concatenate([v.longitudes[p] for v, p in zip(views, picks, strict=True)])
        if keep is not None:
            sizes = tuple(int(p.size) for p in picks)
            masks = tuple(
                (f"lam_{i}/cutout_mask", np.asarray(k, dtype=bool).copy())
                for i, k in enumerate(keep[:-1])
            ) + (("global/cutout_mask", np.asarray(keep[-1], dtype=bool).copy()),)
        else:
            sizes = tuple(n for v in views for n in v.grids)
            masks = tuple(
                (f"{v.name if v.name is not None else i}/{name}", mask)
                for i, v in enumerate(views) for name, mask in v._s.grid_masks
            )  # fmt: skip
        return first._with(
            segments=segments,
            members=np.arange(first.shape[2], dtype=np.int64),
            forced=forced,
            stores=[s for v in views for s in v._stores],
            grid=None,
            coords=(lat, lon),
            grid_sizes=sizes,
            field_shape=first.field_shape,
            grid_masks=masks,
            sources=tuple(x for v in views for x in (v, *v._s.sources)),
        )


def _side_by_side(
    views: list[Dataset], width: Callable[[Dataset], int],
    place: Callable[[Dataset, Part, int], Part],
) -> list[list[Part]]:
    """The parts of views of the same dates placed side by side (join's
    variables, ensemble's members): segments cut where any view's segments
    change, each view's parts placed by `place(view, part, offset)`, the
    offset growing by `width(view)` from one view to the next."""
    bounds = np.unique(np.concatenate([v._starts for v in views]))
    segments: list[list[Part]] = []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        parts: list[Part] = []
        offset = 0
        for v in views:
            s = int(v._seg_of[lo])
            local = np.arange(lo, hi, dtype=np.int64) - v._starts[s]
            parts.extend(place(v, p.take(local), offset) for p in v._segments[s])
            offset += width(v)
        segments.append(parts)
    return segments  # fmt: skip


def _check_compatible(what: str, a: Dataset, b: Dataset) -> None:
    if a.resolution != b.resolution:
        raise ValueError(f"{what}: incompatible resolutions: {a.resolution} and {b.resolution}")
    if a.frequency != b.frequency:
        raise ValueError(f"{what}: incompatible frequencies: {a.frequency} and {b.frequency}")
    if a.dtype != b.dtype:
        raise ValueError(f"{what}: incompatible dtypes: {a.dtype} and {b.dtype}")
    lat_a, lat_b, lon_a, lon_b = a.latitudes, b.latitudes, a.longitudes, b.longitudes
    if (
        lat_a.shape != lat_b.shape
        or not np.allclose(lat_a, lat_b, rtol=1e-7)
        or not np.allclose(lon_a, lon_b, rtol=1e-7)
    ):
        raise ValueError(f"{what}: incompatible grids of {a!r} and {b!r}")


def _store_statistics(store: AnemoiStore) -> Statistics:
    try:
        return {k: np.asarray(v) for k, v in store.statistics.items()}
    except MetadataError as e:  # anemoi reads them lazily too: fail only when asked
        return e


def _map_statistics(f: Any, stats: Statistics) -> Statistics:
    return stats if isinstance(stats, Exception) else {k: f(v) for k, v in stats.items()}


def _joined_statistics(parts: list[Statistics]) -> Statistics:
    for p in parts:
        if isinstance(p, Exception):
            return p
    first = parts[0]
    assert not isinstance(first, Exception)
    return {k: np.concatenate([p[k] for p in parts]) for k in first}  # type: ignore[index]
