"""Where each value of a view comes from. A view is a run of segments along
its dates (one per concatenated dataset, more after a join of datasets whose
own segments differ); a segment has one part per dataset it reads, and a part
maps the segment's dates to that dataset's rows and some of the view's
variables to its columns. Fill policies for missing dates live in the parts,
so that joins and selections keep them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from fastchunk._indexing import as_run
from fastchunk.anemoi.store import STATISTICS, AnemoiStore

# Fill codes, per date of a part: what to write instead of a missing date.
FILL_NONE, FILL_NAN, FILL_INTERPOLATE = 0, 1, 2
FILL_STATISTIC = {name: 3 + i for i, name in enumerate(STATISTICS)}


@dataclass(frozen=True)
class Part:
    store: AnemoiStore
    rows: np.ndarray  # int64: the store row of each date of the segment
    cols: np.ndarray  # int64: store columns ...
    slots: np.ndarray  # int64: ... and the view variables they fill
    fill: np.ndarray | None = None  # int8 fill code per date, or None
    rows_b: np.ndarray | None = None  # with FILL_INTERPOLATE: the second row ...
    alpha: np.ndarray | None = None  # ... and its weight
    # After open_dataset(ensemble=[...]): the store member of each of the
    # view's ensemble members, -1 where another part holds it; None: the
    # view's members are the store's.
    member_map: np.ndarray | None = None
    # After open_dataset(grids=[...]) or cutout=[...]: the store gridpoint of
    # each gridpoint of the combined grid, -1 where another part holds it;
    # None: the gridpoints are the store's.
    grid_map: np.ndarray | None = None

    def take(self, local: np.ndarray) -> Part:
        pick = lambda a: None if a is None else a[local]  # noqa: E731
        return replace(
            self, rows=self.rows[local], fill=pick(self.fill), rows_b=pick(self.rows_b),
            alpha=pick(self.alpha),
        )  # fmt: skip

    def missing(self) -> np.ndarray:
        """bool per date: a missing row of the store, not filled."""
        bad = np.isin(self.rows, self.store.missing_rows)
        if self.fill is not None:
            bad &= self.fill == FILL_NONE
        return bad

    @cached_property
    def _lookup(self) -> np.ndarray:
        """store column per view variable (-1: not this part's)."""
        size = int(self.slots.max()) + 1 if self.slots.size else 0
        lookup = np.full(size, -1, dtype=np.int64)
        lookup[self.slots] = self.cols
        return lookup

    def members_for(self, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `members` this part serves, its store members for them)."""
        if self.member_map is None:
            return np.arange(members.size, dtype=np.int64), members
        mine = self.member_map[members]
        where = np.flatnonzero(mine >= 0)
        return where, mine[where]

    def gridpoints_for(self, grid: Any) -> tuple[np.ndarray | None, Any]:
        """(positions in `grid` this part serves, None: all of them; its
        store gridpoints for them, a range where they run evenly)."""
        if self.grid_map is None:
            return None, grid
        mine = self.grid_map[np.asarray(grid, dtype=np.int64)]
        where = np.flatnonzero(mine >= 0)
        if where.size == mine.size:
            return None, as_run(mine)
        return where, as_run(mine[where])

    def columns_for(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(positions in `slots` this part serves, its columns for them)."""
        lookup = self._lookup
        inside = slots < lookup.size
        cols = np.full(slots.shape, -1, dtype=np.int64)
        cols[inside] = lookup[slots[inside]]
        where = np.flatnonzero(cols >= 0)
        return where, cols[where]

    def read(
        self, local: np.ndarray, cols: np.ndarray, members: np.ndarray, grid: Any,
        out: np.ndarray,
    ) -> None:  # fmt: skip
        """Dates `local` of the segment, store columns `cols`, into `out`
        (C-contiguous, (len(local), len(cols), len(members), len(grid)));
        `grid` an int64 vector or a range."""
        data = self.store.data
        data.read_orthogonal([self.rows[local], cols, members, grid], out)
        if self.fill is None:
            return
        codes = self.fill[local]
        if not codes.any():
            return
        for code in np.unique(codes[codes != FILL_NONE]).tolist():
            at = np.flatnonzero(codes == code)
            if code == FILL_NAN:
                out[at] = np.nan
            elif code == FILL_INTERPOLATE:
                assert self.rows_b is not None and self.alpha is not None
                other = np.empty((at.size,) + out.shape[1:], dtype=out.dtype)
                data.read_orthogonal([self.rows_b[local[at]], cols, members, grid], other)
                for k, i in enumerate(at.tolist()):
                    alpha = float(self.alpha[local[i]])
                    out[i] = out[i] * (1 - alpha) + other[k] * alpha
            else:
                name = STATISTICS[code - 3]
                values = self.store.statistics[name][cols].astype(out.dtype)
                out[at] = values[None, :, None, None]


def segment_length(parts: list[Part]) -> int:
    return int(parts[0].rows.size)
