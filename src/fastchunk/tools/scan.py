"""The data scan of `fastchunk info --scan`: NaNs, min, max, mean and standard
deviation over an array (per index of a variable axis when asked), reduced by
the C++ core over chunk-aligned slabs that fit a memory budget.

Missing chunks are not data: their fill values are counted apart
(`missing_values`), never as NaNs or in the statistics. A chunk that cannot
be read is listed (`corrupt_chunks`: key, grid coordinates, error) and the
scan goes on without it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.array import Array
from fastchunk.errors import ChunkDecodeError
from fastchunk.tools.chunking import plan_group_shape
from fastchunk.tools.progress import Progress
from fastchunk.zarr.chunk_keys import ChunkKeys
from fastchunk.zarr.write import float_json

SCAN_MEMORY = 512 * 2**20
# What a chunk that cannot be read raises; a missing chunk raises nothing.
READ_ERRORS = (ChunkDecodeError, OSError)

Box = tuple[list[int], list[int]]


@dataclass
class _Sums:
    """Running reductions per index of the variable axis (one index without one)."""

    n: int
    nan_count: np.ndarray = field(init=False)
    count: np.ndarray = field(init=False)
    lo: np.ndarray = field(init=False)
    hi: np.ndarray = field(init=False)
    total: np.ndarray = field(init=False)
    squares: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.nan_count = np.zeros(self.n, np.int64)
        self.count = np.zeros(self.n, np.int64)
        self.lo = np.full(self.n, np.inf)
        self.hi = np.full(self.n, -np.inf)
        self.total = np.zeros(self.n)
        self.squares = np.zeros(self.n)

    def add(self, res: dict[str, np.ndarray], where: slice) -> None:
        self.nan_count[where] += res["nan_count"]
        self.count[where] += res["count"]
        self.total[where] += res["sum"]
        self.squares[where] += res["sum_squares"]
        self.lo[where] = np.minimum(self.lo[where], res["min"])
        self.hi[where] = np.maximum(self.hi[where], res["max"])

    def stats(self, i: int | None, dt: np.dtype) -> dict[str, Any]:
        """Statistics of index i, or of all indices together (None)."""
        if i is None:
            return _stats(int(self.nan_count.sum()), int(self.count.sum()),
                          float(self.lo.min(initial=np.inf)),
                          float(self.hi.max(initial=-np.inf)),
                          float(self.total.sum()), float(self.squares.sum()), dt)  # fmt: skip
        return _stats(int(self.nan_count[i]), int(self.count[i]), float(self.lo[i]),
                      float(self.hi[i]), float(self.total[i]), float(self.squares[i]),
                      dt)  # fmt: skip


def _stats(nan: int, count: int, lo: float, hi: float, total: float, squares: float,
           dt: np.dtype) -> dict[str, Any]:  # fmt: skip
    def value(x: float) -> Any:
        if count == 0:
            return None
        if dt.kind in "iub":
            return int(x)
        return float_json(x)

    mean = total / count if count else None
    stdev = math.sqrt(max(0.0, squares / count - mean * mean)) if mean is not None else None
    return {
        "nan_count": nan,
        "count": count,
        "min": value(lo),
        "max": value(hi),
        "mean": float_json(mean) if mean is not None else None,
        "stdev": float_json(stdev) if stdev is not None else None,
    }


def _boxes(
    shape: Sequence[int], chunks: Sequence[int], group: Sequence[int], cuts: Sequence[int]
) -> Iterator[Box]:
    """Regions of `group` chunks each, in C order, clipped to `shape`, split
    along axis 0 at `cuts`."""
    step = [g * c for g, c in zip(group, chunks, strict=False)]
    starts = [range(0, s, st) for s, st in zip(shape, step, strict=False)]
    for lo in itertools.product(*starts):
        hi = [min(a + st, s) for a, st, s in zip(lo, step, shape, strict=False)]
        edges = [lo[0], *(c for c in cuts if lo[0] < c < hi[0]), hi[0]]
        for a, b in itertools.pairwise(edges):
            yield [a, *lo[1:]], [b, *hi[1:]]


def _units(lo: Sequence[int], hi: Sequence[int], unit: Sequence[int]) -> Iterator[Box]:
    """(grid coordinates, region) of every storage unit (chunk or shard)
    meeting the box, the region clipped to the box."""
    ranges = [range(a // u, -(-b // u)) for a, b, u in zip(lo, hi, unit, strict=True)]
    for coords in itertools.product(*ranges):
        start = [max(c * u, a) for c, u, a in zip(coords, unit, lo, strict=True)]
        stop = [min((c + 1) * u, b) for c, u, b in zip(coords, unit, hi, strict=True)]
        yield list(coords), [start, stop]  # type: ignore[misc]


class Scan:
    """One array's scan. `stored`: the grid coordinates (of chunks, or shards
    when sharded) of the stored objects; `rows`: optional (start, stop) along
    axis 0 whose statistics are also kept apart (anemoi's statistics dates)."""

    def __init__(
        self,
        array: Array,
        stored: set[tuple[int, ...]],
        var_axis: int | None = None,
        rows: tuple[int, int] | None = None,
    ) -> None:
        self.array = array
        self.stored = stored
        shape = tuple(array.shape)
        nd = len(shape)
        if var_axis is not None:
            if not -nd <= var_axis < nd:
                raise ValueError(f"--var-axis {var_axis} is out of range for {nd} dimensions")
            var_axis %= nd
        self.var_axis = var_axis
        nvar = shape[var_axis] if var_axis is not None else 1
        self.sums = _Sums(nvar)
        self.row_sums = _Sums(nvar) if rows is not None else None
        self.rows = rows
        self.unit = tuple(array.shards) if array.shards is not None else tuple(array.chunks)
        self.keys = ChunkKeys.of(array.metadata)
        self.missing_values = 0
        self.corrupt_values = 0
        self.corrupt: list[dict[str, Any]] = []

    # ---------------------------------------------------------- reading
    def _region(self, start: Sequence[int], stop: Sequence[int]) -> np.ndarray:
        out = np.empty([b - a for a, b in zip(start, stop, strict=True)], self.array.dtype)
        if out.ndim == 0:
            out[()] = self.array[()]
        elif out.size:
            self.array.read_orthogonal([range(a, b) for a, b in zip(start, stop, strict=True)],
                                       out)  # fmt: skip
        return out

    def _add(self, block: np.ndarray, start: Sequence[int], stop: Sequence[int]) -> None:
        nd = block.ndim
        if self.var_axis is None:
            outer = math.prod(block.shape[:-1]) if nd else 1
            nvar, inner = 1, (block.shape[-1] if nd else 1)
            where = slice(0, 1)
        else:
            outer = math.prod(block.shape[: self.var_axis])
            nvar = block.shape[self.var_axis]
            inner = math.prod(block.shape[self.var_axis + 1 :])
            where = slice(start[self.var_axis], stop[self.var_axis])
        if block.size == 0:
            return
        res = _core.scan_stats(block, outer, nvar, inner)
        self.sums.add(res, where)
        if self.row_sums is not None and self.rows is not None and nd:
            if self.rows[0] <= start[0] and stop[0] <= self.rows[1]:
                self.row_sums.add(res, where)

    def _corrupt(self, coords: Sequence[int], inner: Sequence[int] | None, error: BaseException,
                 size: int) -> None:  # fmt: skip
        entry: dict[str, Any] = {"key": self.keys.key(coords), "chunk": list(coords)}
        if inner is not None:
            entry["inner_chunk"] = list(inner)
        entry["error"] = f"{type(error).__name__}: {error}"
        self.corrupt.append(entry)
        self.corrupt_values += size

    def _unit(self, coords: list[int], start: list[int], stop: list[int]) -> None:
        size = math.prod(b - a for a, b in zip(start, stop, strict=True))
        if tuple(coords) not in self.stored:
            self.missing_values += size
            return
        try:
            block = self._region(start, stop)
        except READ_ERRORS as e:
            if self.array.shards is None:
                self._corrupt(coords, None, e, size)
                return
            # A shard: find which of its inner chunks cannot be read.
            for inner, (a, b) in _units(start, stop, self.array.chunks):
                try:
                    part = self._region(a, b)
                except READ_ERRORS as err:
                    n = math.prod(y - x for x, y in zip(a, b, strict=True))
                    self._corrupt(coords, inner, err, n)
                    continue
                self._add(part, a, b)
            return
        self._add(block, start, stop)

    def _box(self, lo: list[int], hi: list[int]) -> None:
        units = list(_units(lo, hi, self.unit)) if lo else [([], [[], []])]
        if all(tuple(c) in self.stored for c, _ in units):
            try:
                self._add(self._region(lo, hi), lo, hi)
                return
            except READ_ERRORS:
                pass  # read unit by unit: find the ones that fail
        for coords, (start, stop) in units:
            self._unit(coords, start, stop)

    # ---------------------------------------------------------- driving
    def run(self, progress: bool | None, memory: int = SCAN_MEMORY) -> None:
        array = self.array
        shape = tuple(array.shape)
        chunks = tuple(array.chunks)
        if not shape:
            boxes: list[Box] = [([], [])]
        elif array.size == 0:
            boxes = []
        else:
            one = math.prod(self.unit) * array.dtype.itemsize
            budget = max(memory, 4 * one)  # a unit larger than the budget is read alone
            group = plan_group_shape(shape, self.unit, chunks, array.dtype.itemsize, budget, 1)
            cuts = list(self.rows) if self.rows is not None else []
            boxes = list(_boxes(shape, self.unit, group, cuts))
        label = f"scan {array.path}" if array.path else "scan"
        with Progress(len(boxes), desc=label, unit="slab", enabled=progress) as bar:
            for lo, hi in boxes:
                self._box(lo, hi)
                bar.update(1)

    def _per_index(self, sums: _Sums, labels: Sequence[str] | None) -> list[dict[str, Any]]:
        rows = []
        for i in range(sums.n):
            s = sums.stats(i, self.array.dtype)
            rows.append({"name": labels[i], **s} if labels is not None else s)
        return rows

    def report(self, labels: Sequence[str] | None = None) -> dict[str, Any]:
        dt = self.array.dtype
        out: dict[str, Any] = dict(self.sums.stats(None, dt))
        out["missing_values"] = self.missing_values
        out["corrupt_values"] = self.corrupt_values
        out["corrupt_chunks"] = self.corrupt
        if self.var_axis is not None:
            out["var_axis"] = self.var_axis
            out["per_index"] = self._per_index(self.sums, labels)
        if self.row_sums is not None and self.rows is not None:
            rows: dict[str, Any] = {"start": self.rows[0], "stop": self.rows[1]}
            rows.update(self.row_sums.stats(None, dt))
            if self.var_axis is not None:
                rows["per_index"] = self._per_index(self.row_sums, labels)
            out["rows"] = rows
        return out


def scan_report(
    array: Array,
    stored: set[tuple[int, ...]],
    var_axis: int | None = None,
    progress: bool | None = None,
    memory: int = SCAN_MEMORY,
    labels: Sequence[str] | None = None,
    rows: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The scan's figures of one array (see the module's docstring); `rows`:
    (start, stop) along axis 0 whose figures are also given apart ("rows")."""
    dt = array.dtype
    if dt.kind not in "fiub":
        return {
            "nan_count": None,
            "min": None,
            "max": None,
            "mean": None,
            "stdev": None,
            "corrupt_chunks": [],
            "scan_skipped": f"dtype {dt} is not numeric",
        }
    scan = Scan(array, stored, var_axis, rows)
    scan.run(progress, memory)
    return scan.report(labels)
