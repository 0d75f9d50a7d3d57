"""zarr-python's per-chunk selections -> the core's region descriptions.

zarr's indexers hand the codec pipeline, for every chunk, a selection inside
the chunk and one in the output (slices, integers, numpy.ix_ arrays, or
coordinate arrays for vindex). Each axis becomes positions the core walks:
a `range` (a run) or an int64 array (a table). Forms not recognised here are
decoded by the core into a whole-chunk buffer and placed by numpy, exactly as
zarr-python's default pipeline would."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

# Positions along one axis: a range or a 1-d int64 array.
Positions = Any
# One chunk axis: (positions in the chunk, positions in the destination,
# destination axis or -1 when the destination drops it).
Axis = tuple[Positions, Positions, int]
Region = tuple[list[Axis], Positions | None]  # axes, point destinations (vindex)


def count(p: Positions) -> int:
    return len(p)


def as_array(p: Positions) -> np.ndarray:
    if isinstance(p, range):
        return np.arange(p.start, p.stop, p.step, dtype=np.int64)
    return p


def _is_int(s: Any) -> bool:
    return isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))


def _positions(sel: Any, extent: int, ndim: int, axis: int) -> Positions | None:
    """Positions along `axis` of an extent-long axis for one selector; None
    when the selector is not one this module knows."""
    if isinstance(sel, slice):
        start, stop, step = sel.indices(extent)
        if step < 1:
            return None
        return range(start, max(start, stop), step)
    if _is_int(sel):
        i = int(sel)
        i = i + extent if i < 0 else i
        return range(i, i + 1)
    if isinstance(sel, np.ndarray):
        if sel.dtype == bool:
            if sel.ndim != 1:
                return None
            return np.flatnonzero(sel).astype(np.int64)
        if sel.dtype.kind not in "iu":
            return None
        if sel.ndim > 1:
            # numpy.ix_ output: the positions lie along `axis`, every other dim is 1.
            if sel.ndim != ndim or any(n != 1 for d, n in enumerate(sel.shape) if d != axis):
                return None
        return np.ascontiguousarray(sel.reshape(-1), dtype=np.int64)
    return None


def orthogonal(chunk_sel: Any, out_sel: Any, drop_axes: tuple[int, ...],
               chunk_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Region | None:
    nd = len(chunk_shape)
    if not isinstance(chunk_sel, tuple) or len(chunk_sel) != nd:
        return None
    if not isinstance(out_sel, tuple) or len(out_sel) != len(out_shape):
        return None
    outs = [_positions(s, out_shape[j], len(out_shape), j) for j, s in enumerate(out_sel)]
    if any(o is None for o in outs):
        return None
    axes: list[Axis] = []
    j = 0
    for d in range(nd):
        p = _positions(chunk_sel[d], chunk_shape[d], nd, d)
        if p is None:
            return None
        n = count(p)
        if _is_int(chunk_sel[d]) or d in drop_axes:
            if n != 1:
                return None
            axes.append((p, None, -1))
            continue
        if j >= len(outs) or count(outs[j]) != n:
            return None
        axes.append((p, outs[j], j))
        j += 1
    if j != len(outs):
        return None
    return axes, None


def points(chunk_sel: Any, out_sel: Any, chunk_shape: tuple[int, ...],
           out_shape: tuple[int, ...]) -> Region | None:
    """vindex / mask selections: point k of the chunk goes to position k of
    the 1-d output selection."""
    nd = len(chunk_shape)
    if isinstance(out_sel, tuple) or len(out_shape) != 1 or nd == 0:
        return None
    if not isinstance(chunk_sel, tuple) or len(chunk_sel) != nd:
        return None
    dst = _positions(out_sel, out_shape[0], 1, 0)
    if dst is None:
        return None
    axes: list[Axis] = []
    for s in chunk_sel:
        if not (isinstance(s, np.ndarray) and s.ndim == 1 and s.dtype.kind in "iu"):
            return None
        if s.shape[0] != count(dst):
            return None
        axes.append((np.ascontiguousarray(s, dtype=np.int64), None, 0))
    return axes, dst


def region(chunk_sel: Any, out_sel: Any, drop_axes: tuple[int, ...],
           chunk_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> Region | None:
    if isinstance(out_sel, tuple):
        return orthogonal(chunk_sel, out_sel, drop_axes, chunk_shape, out_shape)
    return points(chunk_sel, out_sel, chunk_shape, out_shape)


# ---------------------------------------------------------------- shards


def _split_axis(p: Positions, o: Positions | None, inner: int
                ) -> list[tuple[int, Positions, Positions | None]]:
    """(inner chunk, positions in it, destination positions) along one axis."""
    if isinstance(p, range):
        start, step, n = p.start, p.step, len(p)
        if n == 0:
            return []
        groups = []
        last = start + (n - 1) * step
        for u in range(start // inner, last // inner + 1):
            lo = max(0, -(-(u * inner - start) // step))
            hi = min(n, -(-((u + 1) * inner - start) // step))
            if hi <= lo:
                continue
            first = start + lo * step - u * inner
            groups.append((u, range(first, first + (hi - lo) * step, step), _sub(o, lo, hi)))
        return groups
    q = p // inner
    if q.shape[0] and bool(np.all(q == q[0])):
        u = int(q[0])
        return [(u, p - u * inner, o)]
    oa = as_array(o) if o is not None else None
    out = []
    for u in np.unique(q):
        mask = q == u
        out.append((int(u), p[mask] - int(u) * inner, oa[mask] if oa is not None else None))
    return out


def _sub(o: Positions | None, lo: int, hi: int) -> Positions | None:
    if o is None:
        return None
    return o[lo:hi]


def split_shard(reg: Region, inner_shape: tuple[int, ...]
                ) -> list[tuple[tuple[int, ...], Region]]:
    """A region of a shard as regions of its inner chunks, each with the
    inner chunk's coordinates within the shard."""
    axes, dst = reg
    if dst is None:
        per_axis = []
        for (p, o, j), ic in zip(axes, inner_shape, strict=True):
            per_axis.append([(u, (pi, oi, j)) for u, pi, oi in _split_axis(p, o, ic)])
        out: list[tuple[tuple[int, ...], Region]] = []
        for combo in itertools.product(*per_axis):
            out.append((tuple(u for u, _ in combo), ([a for _, a in combo], None)))
        return out
    coords = [a[0] for a in axes]
    q = np.stack([c // ic for c, ic in zip(coords, inner_shape, strict=True)])
    keys, inverse = np.unique(q, axis=1, return_inverse=True)
    inverse = inverse.reshape(-1)
    dsta = as_array(dst)
    result = []
    for k in range(keys.shape[1]):
        mask = inverse == k
        u = tuple(int(v) for v in keys[:, k])
        sub_axes = [(c[mask] - ui * ic, None, 0)
                    for c, ui, ic in zip(coords, u, inner_shape, strict=True)]
        result.append((u, (sub_axes, dsta[mask])))
    return result
