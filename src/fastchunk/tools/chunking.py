"""Grouping destination objects so that the source region each group decodes
fits a memory budget (rechunk, and the scan of `info`)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

# Decoded slab + its encoded objects (sharded objects are assembled from
# encoded inner chunks: compressed bytes twice) per byte of slab.
_SLAB_FACTOR = 2.2


def _axis_decode_units(size: int, length: int, src_chunk: int) -> int:
    """Source chunks along one axis decoded over all groups of `length` items."""
    if size == 0:
        return 0
    starts = np.arange(0, size, length, dtype=np.int64)
    ends = np.minimum(starts + length, size)
    return int(((ends - 1) // src_chunk - starts // src_chunk + 1).sum())


def plan_group_shape(
    shape: Sequence[int],
    object_shape: Sequence[int],
    src_chunks: Sequence[int],
    itemsize: int,
    budget: int,
    threads: int,
    chunk_shape: Sequence[int] | None = None,
) -> tuple[int, ...]:
    """Objects per group along each axis: the group whose decoded source
    region fits `budget` and that decodes the fewest source bytes overall."""
    nd = len(shape)
    grid = [-(-s // o) for s, o in zip(shape, object_shape, strict=False)]
    if nd == 0 or 0 in grid:
        return tuple(1 for _ in shape)
    # Per thread: one decoded source chunk and one destination chunk in scratch.
    chunk_bytes = math.prod(chunk_shape or object_shape) * itemsize
    fixed = threads * (math.prod(src_chunks) * itemsize + chunk_bytes)
    avail = budget - fixed

    def slab_bytes(g: Sequence[int]) -> float:
        return math.prod(min(k * o, s) for k, o, s in zip(g, object_shape, shape, strict=False)) * (
            itemsize * _SLAB_FACTOR
        )

    if slab_bytes([1] * nd) > avail:
        need = slab_bytes([1] * nd) + fixed
        raise MemoryError(
            f"the memory budget ({budget:,} bytes) is smaller than what one destination "
            f"object needs (about {int(need):,} bytes with {threads} threads): "
            "raise --memory or choose smaller chunks/shards"
        )
    cache: dict[tuple[int, int], int] = {}

    def cost(g: Sequence[int]) -> tuple[int, int]:
        total = 1
        for d in range(nd):
            length = g[d] * object_shape[d]
            if (d, length) not in cache:
                cache[(d, length)] = _axis_decode_units(shape[d], length, src_chunks[d])
            total *= cache[(d, length)]
        return total, math.prod(-(-n // k) for n, k in zip(grid, g, strict=False))

    orders = (
        list(itertools.permutations(range(nd)))
        if nd <= 5
        else [tuple(range(nd))[::-1], tuple(range(nd))]
    )
    best: tuple[tuple[int, int], tuple[int, ...]] | None = None
    for order in orders:
        g = [1] * nd
        for ax in order:
            lo, hi = 1, grid[ax]
            while lo < hi:  # largest count along ax that still fits
                mid = (lo + hi + 1) // 2
                trial = list(g)
                trial[ax] = mid
                if slab_bytes(trial) <= avail:
                    lo = mid
                else:
                    hi = mid - 1
            g[ax] = lo
            if lo < grid[ax]:
                break
        c = cost(g)
        if best is None or c < best[0]:
            best = (c, tuple(g))
    assert best is not None
    return best[1]
