"""The anemoi part of `fastchunk info`: a group written by anemoi-datasets is
described by its variables and dates, read through fastchunk's anemoi view
(`fastchunk.anemoi.open_dataset`: the same dates, frequency and missing dates
as anemoi's), its missing data given as dates, and, with --scan, its stored
statistics checked against the data (NaNs per variable, mean and standard
deviation over the statistics' dates)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastchunk.array import Array
from fastchunk.group import Group

STATISTICS = ("mean", "stdev", "minimum", "maximum")
# Stored statistics are float64 sums over the same values: they agree with
# the scan to rounding; a real disagreement is far larger than this.
REL_TOL = 1e-4


def looks_anemoi(node: Group) -> bool:
    """A group with "data" and "dates" whose attributes name its variables."""
    attrs = node.attrs
    if "variables" not in attrs and "name_to_index" not in attrs:
        return False
    names = set(node.keys())
    return "data" in names and "dates" in names


def _iso(d: np.datetime64) -> str:
    return str(np.datetime64(d, "s"))


def _location(node: Group, location: str | None) -> str:
    if location is not None:
        return location
    store = node.store
    root = store.local_root if store.local_root is not None else store.name
    return f"{root.rstrip('/')}/{node.path}" if node.path else root


class AnemoiInfo:
    """An anemoi dataset seen through fastchunk's view."""

    def __init__(self, node: Group, location: str | None, storage_options: dict | None) -> None:
        from fastchunk.anemoi import frequency_string, open_dataset

        self.node = node
        self.location = _location(node, location)
        self.storage_options = storage_options
        self.view = open_dataset(self.location, storage_options=storage_options)
        self.dates = self.view.dates
        self.variables = self.view.variables
        try:
            self.frequency: str | None = frequency_string(self.view.frequency)
        except ValueError:
            self.frequency = None
        self.rows = self._statistics_rows()

    def _statistics_rows(self) -> tuple[int, int] | None:
        """The rows of the dates the stored statistics cover (attrs
        statistics_start_date/end_date, rounded as anemoi rounds them)."""
        attrs = self.node.attrs
        start, end = attrs.get("statistics_start_date"), attrs.get("statistics_end_date")
        if start is None and end is None:
            return (0, len(self.dates))
        from fastchunk.anemoi import open_dataset

        sub = open_dataset(self.location, start=start, end=end,
                           storage_options=self.storage_options)  # fmt: skip
        if len(sub) == 0:
            return None
        lo = int(np.searchsorted(self.dates, sub.dates[0]))
        return (lo, lo + len(sub))

    def data_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The data array's report options: with --scan, statistics per
        variable (axis 1, named) and kept apart over the statistics' dates."""
        if not options.get("scan"):
            return {}
        var_axis = options.get("var_axis")
        if var_axis is None or var_axis % 4 == 1:
            return {"var_axis": 1, "labels": self.variables, "rows": self.rows}
        return {"rows": self.rows}

    def missing_rows(self, data: Array, stored: set[tuple[int, ...]]) -> np.ndarray:
        """Rows of "data" some of whose chunks are not stored."""
        unit = data.shards if data.shards is not None else data.chunks
        grid = [-(-s // u) for s, u in zip(data.shape, unit, strict=True)]
        per_row = math.prod(grid[1:])
        counts = np.zeros(grid[0], np.int64)
        for coords in stored:
            counts[coords[0]] += 1
        rows = [
            np.arange(c * unit[0], min((c + 1) * unit[0], data.shape[0]))
            for c in np.flatnonzero(counts < per_row)
        ]
        return np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64)

    def report(self, data_report: dict[str, Any] | None, stored: set | None) -> dict[str, Any]:
        dates = self.dates
        declared = self.view.missing_positions
        out: dict[str, Any] = {
            "variables": self.variables,
            "start_date": _iso(dates[0]) if len(dates) else None,
            "end_date": _iso(dates[-1]) if len(dates) else None,
            "frequency": self.frequency,
            "dates": int(len(dates)),
        }
        data = self.node["data"]
        if isinstance(data, Array) and stored is not None:
            absent = self.missing_rows(data, stored)
            missing = np.union1d(declared, absent)
            out["missing_dates"] = [_iso(dates[i]) for i in missing]
            out["missing_dates_declared"] = [_iso(dates[i]) for i in declared]
            out["missing_dates_undeclared"] = [
                _iso(dates[i]) for i in np.setdiff1d(absent, declared)
            ]
            out["declared_missing_dates_stored"] = [
                _iso(dates[i]) for i in np.setdiff1d(declared, absent)
            ]
        else:
            out["missing_dates"] = [_iso(dates[i]) for i in declared]
        if self.rows is not None:
            lo, hi = self.rows
            out["statistics_start_date"] = _iso(dates[lo])
            out["statistics_end_date"] = _iso(dates[hi - 1])
        if data_report is not None and "per_index" in data_report:
            out["nan_count"] = {s["name"]: s["nan_count"] for s in data_report["per_index"]}
            out["statistics_check"] = self._check(data_report)
        return out

    def _check(self, data_report: dict[str, Any]) -> dict[str, Any]:
        """Stored statistics against the scan of the same dates."""
        try:
            stored = self.view.statistics
        except Exception as e:  # statistics arrays missing or unreadable
            return {"error": f"{type(e).__name__}: {e}"}
        scanned = (data_report.get("rows") or {}).get("per_index")
        if scanned is None:
            return {"error": "no dates in the statistics' range"}
        per_variable: dict[str, Any] = {}
        disagree: list[dict[str, Any]] = []
        for i, name in enumerate(self.variables):
            s = scanned[i]
            mine = {"mean": s["mean"], "stdev": s["stdev"], "minimum": s["min"],
                    "maximum": s["max"]}  # fmt: skip
            theirs = {k: float(stored[k][i]) for k in STATISTICS if k in stored}
            scale = max(abs(theirs.get("mean", 0.0)), abs(theirs.get("stdev", 0.0)), 1e-30)
            ok = True
            for k, v in theirs.items():
                got = mine[k]
                if got is None or not math.isclose(v, got, rel_tol=REL_TOL,
                                                   abs_tol=REL_TOL * 1e-3 * scale):  # fmt: skip
                    ok = False
                    disagree.append({"variable": name, "statistic": k, "stored": v,
                                     "scanned": got})  # fmt: skip
            per_variable[name] = {"stored": theirs, "scanned": mine, "agree": ok}
        return {"agree": not disagree, "disagree": disagree, "per_variable": per_variable}


def open_info(node: Group, location: str | None, storage_options: dict | None) -> Any:
    """An AnemoiInfo, or a dict {"error": ...} when the view cannot open it."""
    try:
        return AnemoiInfo(node, location, storage_options)
    except Exception as e:  # noqa: BLE001 - reported in the "anemoi" section
        return {"error": f"{type(e).__name__}: {e}"}
