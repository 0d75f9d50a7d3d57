"""The dask chunks fastchunk's backend prefers: each dask task reads many
stored chunks in one native call.

A task covers one stored chunk along the first axis (the one users sample:
time, date, sample) and as many stored chunks along the other axes as fit in
`task_bytes`. dask cannot hand a task only the rows of a random batch that
fall in its block (its `take` reads whole blocks, then selects), so blocks
stay one chunk deep along the first axis, where a shuffled batch picks rows,
unless one such block is smaller than `min_task_bytes`: then per-task
overhead would dominate, and the first axis grows too. Slices (windows,
regions of the grid) are handed to the task's read, so they read only what
they select whatever the block size.

Every block is a whole number of stored chunks (inner chunks of shards), so
dask chunks never split a stored chunk between tasks, and writing the data
back with to_zarr keeps its chunks aligned."""

from __future__ import annotations

import math
from collections.abc import Sequence

from fastchunk._units import parse_bytes

TASK_BYTES = 64 * 2**20  # what one task reads at most by growing the non-first axes
MIN_TASK_BYTES = 2**20  # below this the first axis grows too


def preferred_chunks(
    shape: Sequence[int],
    chunks: Sequence[int],
    itemsize: int,
    task_bytes: int | str | None = None,
    min_task_bytes: int = MIN_TASK_BYTES,
) -> tuple[int, ...]:
    """The dask block shape for an array of `shape` stored in `chunks` (each
    a multiple of the stored chunk, capped at the axis length). task_bytes=0
    gives the stored chunks themselves (one task per chunk, as engine="zarr")."""
    budget = TASK_BYTES if task_bytes is None else parse_bytes(task_bytes)
    block = [min(c, n) if n else c for c, n in zip(chunks, shape, strict=True)]
    if budget == 0 or not shape or 0 in shape:
        return tuple(block)
    itemsize = max(1, itemsize)

    def grow(axis: int, limit: int) -> bool:
        """Widens the block along `axis` by whole chunks up to `limit` bytes;
        True when it now spans the axis."""
        n, c = shape[axis], chunks[axis]
        per_chunk = math.prod(block[:axis] + block[axis + 1 :]) * c * itemsize
        whole = -(-n // c)
        k = max(1, min(whole, limit // max(1, per_chunk)))
        block[axis] = min(n, k * c)
        return k == whole

    for axis in range(len(shape) - 1, 0, -1):
        if not grow(axis, budget):
            break
    else:
        if math.prod(block) * itemsize < min_task_bytes:
            grow(0, min(budget, max(min_task_bytes, 1)))
    return tuple(block)
