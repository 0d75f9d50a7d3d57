"""Sharded arrays over object stores: read each shard's index with one ranged
request (cached), then only the byte ranges of the inner chunks a selection
needs, neighbours coalesced into one request.

The C++ core decodes shards from memory. Rather than teach it about partial
objects, each needed shard is handed to it as a compact stand-in: the fetched
inner chunks back to back plus a rewritten index in which every chunk not
fetched is marked empty. The core only looks at the chunks the selection
covers, so the stand-in decodes exactly like the real shard.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError
from fastchunk.zarr.metadata import ArrayMeta

_EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
DEFAULT_COALESCE_GAP = 256 * 1024  # bytes read in between rather than a second request
DEFAULT_MAX_REQUEST = 64 * 1024 * 1024
DEFAULT_INDEX_CACHE = 4096  # shard indexes kept


class ShardReader:
    """Fetches the parts of shards a selection needs from a RemoteStore-like
    store (methods get_ranges, get_suffixes, get_many)."""

    def __init__(
        self,
        store: Any,
        meta: ArrayMeta,
        native: Any,
        coalesce_gap: int = DEFAULT_COALESCE_GAP,
        max_request: int = DEFAULT_MAX_REQUEST,
        index_cache: int = DEFAULT_INDEX_CACHE,
    ) -> None:
        if meta.shard is None:
            raise ValueError("ShardReader needs a sharded array")
        self.store = store
        self.meta = meta
        self.native = native  # the array's _core.NativeArray: its planner
        self.layout = meta.shard
        self.coalesce_gap = coalesce_gap
        self.max_request = max_request
        self._cache: OrderedDict[str, tuple[np.ndarray, int] | None] = OrderedDict()
        self._cache_size = index_cache
        self._lock = threading.Lock()
        self.n_inner = int(np.prod(self.layout.chunks_per_shard, dtype=np.int64))
        stored = np.dtype("u8")
        if self.layout.index_swap_unit:
            stored = stored.newbyteorder("S")
        self._index_dtype = stored
        self.requests_made = 0  # ranged GETs issued, for benchmarks and tests

    # ------------------------------------------------------------ indexes
    def _decode_index(self, key: str, raw: Any, size: int) -> np.ndarray:
        try:
            return self.layout.decode_index(raw, size)
        except ChunkDecodeError as e:
            raise ChunkDecodeError(f"{self.store.name}/{key}: shard index: {e}") from None

    def _indexes(self, keys: list[str]) -> dict[str, tuple[np.ndarray, int] | None]:
        out: dict[str, tuple[np.ndarray, int] | None] = {}
        todo: list[str] = []
        with self._lock:
            for k in keys:
                if k in self._cache:
                    self._cache.move_to_end(k)
                    out[k] = self._cache[k]
                else:
                    todo.append(k)
        if not todo:
            return out
        nbytes = self.layout.index_nbytes
        fetched: dict[str, tuple[np.ndarray, int] | None] = {}
        if self.layout.index_at_start:
            # The object size bounds the entries; a HEAD-like 0-byte suffix read gives it.
            sizes = self.store.get_suffixes([(k, 0) for k in todo])
            heads = self.store.get_ranges([(k, 0, nbytes) for k in todo])
            self.requests_made += 2 * len(todo)
            for k, s, h in zip(todo, sizes, heads, strict=True):
                fetched[k] = (
                    None if s is None or h is None else (self._decode_index(k, h, s[1]), s[1])
                )
        else:
            tails = self.store.get_suffixes([(k, nbytes) for k in todo])
            self.requests_made += len(todo)
            for k, t in zip(todo, tails, strict=True):
                fetched[k] = None if t is None else (self._decode_index(k, t[0], t[1]), t[1])
        with self._lock:
            for k, v in fetched.items():
                self._cache[k] = v
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        out.update(fetched)
        return out

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    # ------------------------------------------------------------ fetching
    def _plan(self, entries: np.ndarray, wanted: np.ndarray) -> list[tuple[int, int, list[int]]]:
        """Coalesced (offset, length, chunk numbers) requests for the wanted chunks."""
        rows = entries[wanted]
        present = rows[:, 0] != _EMPTY
        chunks = wanted[present]
        offs = rows[present, 0].astype(np.int64)
        lens = rows[present, 1].astype(np.int64)
        order = np.argsort(offs, kind="stable")
        plan: list[tuple[int, int, list[int]]] = []
        for i in order:
            o, n, c = int(offs[i]), int(lens[i]), int(chunks[i])
            if plan:
                start, length, members = plan[-1]
                end = start + length
                near = o - end <= self.coalesce_gap
                if o >= start and near and o + n - start <= self.max_request:
                    plan[-1] = (start, max(end, o + n) - start, [*members, c])
                    continue
            plan.append((o, n, [c]))
        return plan

    def fetch(self, indices: list[np.ndarray]) -> dict[str, bytes | None]:
        """For the orthogonal selection `indices` (one int64 array per axis):
        shard key -> stand-in shard bytes for the core, None for a missing shard.
        The core's planner says which inner chunks of which shards it needs."""
        needed = self.native.needed_chunks(indices)
        indexes = self._indexes(list(needed))
        requests: list[tuple[str, int, int]] = []
        plans: dict[str, list[tuple[int, int, list[int]]]] = {}
        for key, wanted in needed.items():
            idx = indexes[key]
            if idx is None:
                continue
            plans[key] = self._plan(idx[0], wanted)
            requests += [(key, o, n) for o, n, _ in plans[key]]
        blobs = self.store.get_ranges(requests) if requests else []
        self.requests_made += len(requests)
        out: dict[str, bytes | None] = {k: None for k in needed}
        pos = 0
        for key, plan in plans.items():
            entries = indexes[key][0]  # type: ignore[index]
            got = blobs[pos : pos + len(plan)]
            pos += len(plan)
            if any(b is None for b in got):  # deleted between index and data reads
                out[key] = None
                continue
            out[key] = self._stand_in(key, entries, plan, got)
        return out

    def _stand_in(
        self, key: str, entries: np.ndarray, plan: list[tuple[int, int, list[int]]], got: list[Any]
    ) -> bytes:
        index_nbytes = self.layout.index_nbytes
        base = index_nbytes if self.layout.index_at_start else 0
        new = np.full((self.n_inner, 2), _EMPTY, dtype=np.uint64)
        parts: list[Any] = []
        cursor = base
        for (start, length, members), blob in zip(plan, got, strict=True):
            view = memoryview(blob).cast("B")
            if len(view) != length:
                raise ChunkDecodeError(
                    f"{self.store.name}/{key}: ranged read returned {len(view)} bytes, "
                    f"expected {length}"
                )
            for c in members:
                o, n = int(entries[c, 0]), int(entries[c, 1])
                parts.append(view[o - start : o - start + n])
                new[c] = (cursor, n)
                cursor += n
        index = new.astype(self._index_dtype).tobytes()
        for _ in self.layout.index_codecs:  # all crc32c (checked at parse time)
            index += int(_core.crc32c(index)).to_bytes(4, "little")
        if self.layout.index_at_start:
            return b"".join([index, *parts])
        return b"".join([*parts, index])
