"""numpy-style selections turned into one index vector per axis (an
orthogonal selection) plus how to shape the result like numpy would."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np

# Per axis of an orthogonal selection: a run of positions (a slice, a whole
# axis: planned by the core without a table) or int64 positions in output order.
AxisIndex = range | np.ndarray


def as_run(positions: np.ndarray) -> AxisIndex:
    """`positions` (1-D int64) as a range when they step evenly (a slice, a
    whole axis), else unchanged: the core plans a range in O(chunks)."""
    n = positions.shape[0]
    if n == 0:
        return range(0)
    first = int(positions[0])
    if n == 1:
        return range(first, first + 1)
    step = int(positions[1]) - first
    if step == 0 or not np.array_equal(np.diff(positions), np.full(n - 1, step)):
        return positions
    return range(first, first + n * step, step)


@dataclass
class OrthogonalSelection:
    indices: list[AxisIndex]  # per axis: runs, or int64 source positions in output order
    counts: tuple[int, ...]  # per axis: length of indices
    result_shape: tuple[int, ...]  # numpy's result shape
    # (axis of the advanced index in the orthogonal read, its index shape,
    # where its dims go in the result) or None when there is no array index.
    advanced: tuple[int, tuple[int, ...], int] | None
    dropped: tuple[int, ...]  # axes indexed by plain integers


def _is_int(k: Any) -> bool:
    if isinstance(k, (bool, np.bool_)):
        return False
    if isinstance(k, (int, np.integer)):
        return True
    return isinstance(k, np.ndarray) and k.ndim == 0 and k.dtype.kind in "iu"


def _norm_int(k: Any, n: int, axis: int) -> int:
    i = operator.index(k)
    if i < -n or i >= n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return i + n if i < 0 else i


def normalize_array_index(k: Any, n: int, axis: int) -> np.ndarray:
    """Integer positions (any shape) for an integer or boolean array index."""
    arr = np.asarray(k)
    if arr.dtype == bool:
        if arr.ndim != 1:
            raise IndexError("only one-dimensional boolean masks are supported")
        if arr.shape[0] != n:
            raise IndexError(
                f"boolean index did not match indexed array along axis {axis}; "
                f"size of axis is {n} but size of corresponding boolean axis is {arr.shape[0]}"
            )
        return np.flatnonzero(arr).astype(np.int64)
    if arr.size == 0:
        return np.zeros(arr.shape, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise IndexError(
            "arrays used as indices must be of integer (or boolean) type, got " + str(arr.dtype)
        )
    out = arr.astype(np.int64, copy=True)
    lo, hi = int(out.min()), int(out.max())
    if lo < -n or hi >= n:
        bad = lo if lo < -n else hi
        raise IndexError(f"index {bad} is out of bounds for axis {axis} with size {n}")
    if lo < 0:
        out[out < 0] += n
    return out


def _expand(key: Any, ndim: int) -> list[Any]:
    if not isinstance(key, tuple):
        key = (key,)
    n_ellipsis = sum(1 for k in key if k is Ellipsis)
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    for k in key:
        if k is None:
            raise IndexError("np.newaxis / None is not supported in fastchunk selections")
    n_real = len(key) - n_ellipsis
    if n_real > ndim:
        raise IndexError(
            f"too many indices for array: array is {ndim}-dimensional, but {n_real} were indexed"
        )
    out: list[Any] = []
    for k in key:
        if k is Ellipsis:
            out.extend([slice(None)] * (ndim - n_real))
        else:
            out.append(k)
    out.extend([slice(None)] * (ndim - len(out)))
    return out


def orthogonalize(key: Any, shape: tuple[int, ...]) -> OrthogonalSelection:
    ndim = len(shape)
    keys = _expand(key, ndim)
    indices: list[AxisIndex] = []
    result: list[int] = []
    dropped: list[int] = []
    adv_axis = -1
    adv_shape: tuple[int, ...] = ()
    for axis, (k, n) in enumerate(zip(keys, shape, strict=True)):
        if isinstance(k, slice):
            span = range(*k.indices(n))
            indices.append(span)
            result.append(len(span))
        elif _is_int(k):
            indices.append(np.array([_norm_int(k, n, axis)], dtype=np.int64))
            dropped.append(axis)
        elif isinstance(k, (list, np.ndarray)) or hasattr(k, "__array__"):
            if adv_axis >= 0:
                raise IndexError(
                    "only one integer array, list or boolean mask is supported per selection"
                )
            arr = normalize_array_index(k, n, axis)
            adv_axis, adv_shape = axis, arr.shape
            indices.append(arr.reshape(-1))
            result.append(-1)  # placeholder for the index's dims
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), and integer or boolean "
                f"arrays are valid indices, got {type(k).__name__}"
            )
    advanced = None
    if adv_axis >= 0:
        # numpy: integers next to the array are advanced indices too; the
        # result dims go in place when all advanced axes are adjacent, else first.
        adv_axes = sorted([adv_axis] + dropped)
        adjacent = adv_axes == list(range(adv_axes[0], adv_axes[-1] + 1))
        position = sum(1 for a in range(adv_axes[0]) if a not in dropped) if adjacent else 0
        advanced = (adv_axis, adv_shape, position)
        result_dims = [r for r in result if r != -1]
        result_shape = tuple(result_dims[:position]) + adv_shape + tuple(result_dims[position:])
    else:
        result_shape = tuple(result)
    counts = tuple(len(i) for i in indices)
    # An empty selection reads nothing: no index vectors for the other axes.
    empty = 0 in counts
    arrays: list[AxisIndex] = [np.empty(0, dtype=np.int64) if empty else i for i in indices]
    return OrthogonalSelection(
        indices=arrays,
        counts=counts,
        result_shape=result_shape,
        advanced=advanced,
        dropped=tuple(dropped),
    )


def shape_result(raw: np.ndarray, sel: OrthogonalSelection) -> np.ndarray:
    """Turns the orthogonal read (one dim per axis) into numpy's result."""
    if sel.advanced is None:
        return raw.reshape(sel.result_shape)
    adv_axis, adv_shape, position = sel.advanced
    kept = [a for a in range(raw.ndim) if a not in sel.dropped]
    squeezed = raw.reshape([raw.shape[a] for a in kept])
    src = kept.index(adv_axis)
    if src != position:
        squeezed = np.moveaxis(squeezed, src, position)
    return squeezed.reshape(sel.result_shape)
