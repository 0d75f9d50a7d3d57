"""Reads of variable-length arrays (zarr/strings.py): item numbers through
the core's read plan, the stored chunks decoded by numcodecs into numbers as
they are fetched, then the items looked up by number. Beside Array, not in
zarr/: it reads through store/ and names chunks with zarr/chunk_keys (which
metadata, and with it strings.py, must not reach back to)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fastchunk.errors import ChunkDecodeError
from fastchunk.store.serve import serve
from fastchunk.zarr.chunk_keys import ChunkKeys


def read_items(
    array: Any, indices: list[np.ndarray], out: np.ndarray, num_threads: int = 0
) -> None:
    """Reads the orthogonal selection `indices` of a variable-length array
    into `out` (StringDType or object): item numbers through the core (its
    read plan, the stored chunks decoded by numcodecs into numbers as they
    are fetched), then the items by number. Number 0 is the fill value; item
    i of the chunk at linear grid position c is c * items_per_chunk + i + 1,
    the same in every read and process, so the core's decoded-chunk caches
    may keep them."""
    meta = array.metadata
    chunk_shape = meta.shard.shard_shape if meta.shard is not None else meta.chunks
    grid = tuple(-(-s // c) for s, c in zip(meta.shape, chunk_shape, strict=True))
    n = math.prod(chunk_shape)
    keys = ChunkKeys.of(meta)
    decoded: dict[int, np.ndarray] = {}

    def numbers(key: str, blob: Any) -> bytes:
        coords = keys.coords(key)
        if coords is None:
            raise ChunkDecodeError(f"'{key}' is not a chunk key of the array")
        c = int(np.ravel_multi_index(coords, grid)) if grid else 0
        decoded[c] = np.asarray(meta.fallback(blob), dtype=object).reshape(-1)
        return np.arange(c * n + 1, (c + 1) * n + 1, dtype=np.int64).tobytes()

    ids = np.empty(out.shape, dtype=np.int64)
    # Every object is fetched, chunks in the decoded-chunk cache too: the
    # items are looked up in what the store holds now.
    plan = array._native.plan(indices, ids.reshape(-1).view(np.uint8), num_threads, False)
    serve(plan, array.store, decode=numbers)
    wanted, where = np.unique(ids, return_inverse=True)
    fill = meta.fill_value[()]
    values = np.empty(wanted.shape[0], dtype=object)
    for k, number in enumerate(wanted.tolist()):
        # A number from a cache for a chunk the store no longer holds: the
        # store is what it is now, so the fill value.
        chunk = decoded.get((number - 1) // n) if number else None
        values[k] = fill if chunk is None else chunk[(number - 1) % n]
    out[...] = values[where.reshape(out.shape)]
