"""One dataset written by anemoi-datasets: a zarr group with the array
"data" (dates, variables, ensembles, gridpoints), "dates", "latitudes",
"longitudes", the statistics arrays and the attributes that name them."""

from __future__ import annotations

import datetime
import os
from functools import cached_property
from typing import Any

import numpy as np

import fastchunk
from fastchunk.anemoi.dates import as_timedelta, frequency_string
from fastchunk.array import Array
from fastchunk.errors import MetadataError
from fastchunk.group import Group

STATISTICS = ("mean", "stdev", "maximum", "minimum")


def open_anemoi_group(
    location: Any, storage_options: dict[str, Any] | None = None
) -> tuple[Group, str]:
    """The group of an anemoi dataset at a path or URL. A location that names
    the "data" array inside it ("ds.zarr/data") opens the dataset around it."""
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    if not isinstance(location, str):
        raise TypeError(f"cannot open an anemoi dataset from {type(location).__name__}")
    text = location.rstrip("/")
    try:
        node = fastchunk.open(text, storage_options=storage_options)
    except FileNotFoundError:
        raise FileNotFoundError(f"no anemoi dataset at {location!r}") from None
    if isinstance(node, Array):
        parent, _, name = text.rpartition("/")
        if name != "data" or not parent:
            raise MetadataError(f"{location!r} is an array, not an anemoi dataset (a zarr group)")
        node = fastchunk.open_group(parent, storage_options=storage_options)
        text = parent
    return node, text


def layout_of(group: Group) -> str:
    """anemoi's layout of a dataset: "gridded", "trajectories", "tabular"."""
    attrs = group.attrs
    return str(attrs.get("layout", attrs.get("format", "gridded")))


def member_array(group: Group, location: str, name: str, kind: str) -> Array:
    """The array `name` of a dataset's group; a MetadataError naming what is
    missing when it is absent or a group."""
    try:
        node = group[name]
    except (FileNotFoundError, KeyError):
        raise MetadataError(f"{location}: no {name!r} array: not a complete {kind}") from None
    if not isinstance(node, Array):
        raise MetadataError(f"{location}: {name!r} is a group, not an array")
    return node


class AnemoiStore:
    """The arrays and attributes of one anemoi dataset, read once."""

    def __init__(
        self, location: Any, storage_options: dict[str, Any] | None = None,
        opened: tuple[Group, str] | None = None,
    ) -> None:  # fmt: skip
        """`opened`: the group at `location` and its location text, when the
        caller has opened it already (open_anemoi_group)."""
        if opened is None:
            opened = open_anemoi_group(location, storage_options)
        self.group, self.location = opened
        self.storage_options = storage_options
        attrs = self.group.attrs
        layout = attrs.get("layout", attrs.get("format", "gridded"))
        if layout != "gridded":
            raise fastchunk.UnsupportedError(
                f"{self.location}: anemoi {layout!r} datasets are not supported, only gridded "
                "and trajectories ones"
            )
        try:
            data = self.group["data"]
        except (FileNotFoundError, KeyError):
            raise MetadataError(
                f"{self.location}: no 'data' array: not an anemoi dataset"
            ) from None
        if not isinstance(data, Array) or data.ndim != 4:
            raise MetadataError(
                f"{self.location}: 'data' must be a 4-d array (dates, variables, ensembles, "
                f"gridpoints), got {data!r}"
            )
        self.data: Array = data
        self.attrs = attrs
        self.dates = np.asarray(self._array("dates")[...]).astype("datetime64[s]")
        if self.dates.shape != (data.shape[0],):
            raise MetadataError(
                f"{self.location}: {self.dates.size} dates for {data.shape[0]} rows of 'data'"
            )
        missing = {np.datetime64(d, "s") for d in attrs.get("missing_dates", [])}
        self.missing_rows = np.flatnonzero(np.isin(self.dates, list(missing))).astype(np.int64)
        if len(missing) and self.missing_rows.size != len(missing):
            raise MetadataError(
                f"{self.location}: attrs 'missing_dates' name dates that are not in 'dates'"
            )
        if "variables" in attrs:
            self.variables = [str(v) for v in attrs["variables"]]
        elif "name_to_index" in attrs:
            n2i = attrs["name_to_index"]
            self.variables = [k for k, _ in sorted(n2i.items(), key=lambda kv: kv[1])]
        else:
            raise MetadataError(
                f"{self.location}: attrs name neither 'variables' nor 'name_to_index'"
            )
        if len(self.variables) != data.shape[1]:
            raise MetadataError(
                f"{self.location}: {len(self.variables)} variable names for {data.shape[1]} columns"
            )

    def __repr__(self) -> str:
        return self.location

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (AnemoiStore, (self.location, self.storage_options))

    def _array(self, name: str) -> Array:
        return member_array(self.group, self.location, name, "anemoi dataset")

    def has(self, name: str) -> bool:
        return name in self.group

    @cached_property
    def frequency(self) -> datetime.timedelta:
        if "frequency" in self.attrs:
            return as_timedelta(self.attrs["frequency"])
        if self.dates.size < 2:
            raise ValueError(f"{self.location}: no 'frequency' attribute and fewer than two dates")
        return as_timedelta(self.dates[1] - self.dates[0])

    @cached_property
    def statistics(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(self._array(k)[...]) for k in STATISTICS}

    def statistics_tendencies(self, delta: Any = None) -> dict[str, np.ndarray]:
        step = frequency_string(as_timedelta(self.frequency if delta is None else delta))
        names = {k: f"statistics_tendencies_{step}_{k}" for k in STATISTICS}
        missing = [n for n in names.values() if not self.has(n)]
        if missing:
            raise KeyError(f"{self.location}: no {missing[0]!r}")
        return {k: np.asarray(self._array(n)[...]) for k, n in names.items()}

    @cached_property
    def latitudes(self) -> np.ndarray:
        return np.asarray(self._array("latitudes" if self.has("latitudes") else "latitude")[...])

    @cached_property
    def longitudes(self) -> np.ndarray:
        return np.asarray(self._array("longitudes" if self.has("longitudes") else "longitude")[...])

    @property
    def field_shape(self) -> tuple[int, ...]:
        shape = self.attrs.get("field_shape")
        return (self.data.shape[-1],) if shape is None else tuple(shape)

    @property
    def resolution(self) -> Any:
        return self.attrs.get("resolution")

    @property
    def variables_metadata(self) -> dict[str, Any]:
        return dict(self.attrs.get("variables_metadata", {}))

    @cached_property
    def constant_fields(self) -> list[str]:
        """The variables anemoi-datasets reports as constant: anemoi recomputes
        them whatever the attributes say, from the tendency statistics when the
        dataset has them (mean and stdev both 0), else by comparing a few dates."""
        try:
            t = self.statistics_tendencies()
            return sorted(
                v for i, v in enumerate(self.variables) if t["mean"][i] == 0 and t["stdev"][i] == 0
            )
        except KeyError:
            pass
        missing = set(self.missing_rows.tolist())
        rows = [i for i in range(self.data.shape[0]) if i not in missing]
        count = len(rows)
        if count == 0:
            return []
        wanted = min(4, count)
        picks = set(range(0, count, max(1, count // max(1, wanted - 1))))
        picks.add(count - 1)
        samples = [rows[i] for i in sorted(picks)]
        first = self.data[samples[0]]
        constant = np.ones(len(self.variables), dtype=bool)
        for row in samples[1:]:
            other = self.data[row]
            for i in range(len(self.variables)):
                if np.any(other[i] != first[i]):
                    constant[i] = False
        return sorted(v for i, v in enumerate(self.variables) if constant[i])
