"""The numpy-like Array."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk._indexing import normalize_array_index, orthogonalize, shape_result
from fastchunk.errors import ChunkDecodeError
from fastchunk.store import Store
from fastchunk.zarr.fallback import warn_slow
from fastchunk.zarr.metadata import ArrayMeta
from fastchunk.zarr.strings import read_items


class Array:
    """A zarr array opened for reading. Index it like a numpy array."""

    def __init__(self, store: Store, meta: ArrayMeta) -> None:
        self._store = store
        self._meta = meta
        self._native = self._make_native(meta)
        self._shard_reader: Any = None

    def _make_native(self, meta: ArrayMeta) -> _core.NativeArray:
        shard = None
        fallback = meta.fallback is not None
        if meta.shard is not None and not fallback:
            shard = {
                "chunks_per_shard": meta.shard.chunks_per_shard,
                "index_at_start": meta.shard.index_at_start,
                "index_codecs": meta.shard.index_chain,
            }
        # Variable-length items: the core reads int64 item numbers (0 = the
        # fill value), zarr/strings.py looks the items up.
        vlen = meta.vlen is not None
        return _core.NativeArray(
            store_name=self._store.name,
            root=self._store.local_root,
            array_path=meta.path,
            shape=meta.shape,
            # Sharded fallback arrays decode whole shards in Python.
            chunk_shape=meta.shard.shard_shape if fallback and meta.shard else meta.chunks,
            itemsize=8 if vlen else meta.dtype.itemsize,
            fill=bytes(8) if vlen else meta.fill_value.tobytes(),
            # Fallback chunks reach the core already decoded, in C order.
            codecs=[] if fallback else meta.native_codecs,
            stored_axes=None if fallback else meta.stored_axes,
            key_prefix=meta.key_prefix,
            separator=meta.separator,
            zero_dim_key=meta.zero_dim_key,
            nested_fallback=meta.nested_fallback,
            shard=shard,
            store_id=getattr(self._store, "store_id", ""),
            version_of=getattr(self._store, "version_of", None),
        )

    # Pickled as (store, path): the store pickles its location and options
    # (credentials and endpoint included) and each process reopens the array.
    # The node-wide chunk cache in use travels along, so that spawned and
    # forkserver workers use it too.
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        from fastchunk import cache

        return (_reopen, (self._store, self.path, cache.shared_cache_setting()))

    # ------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self._meta.shape

    @property
    def dtype(self) -> np.dtype:
        return self._meta.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        """Shape of one chunk (the inner chunk for sharded arrays)."""
        return self._meta.chunks

    @property
    def shards(self) -> tuple[int, ...] | None:
        return self._meta.shard.shard_shape if self._meta.shard else None

    @property
    def ndim(self) -> int:
        return len(self._meta.shape)

    @property
    def size(self) -> int:
        return math.prod(self._meta.shape)

    @property
    def nbytes(self) -> int:
        return self.size * self._meta.dtype.itemsize

    @property
    def attrs(self) -> dict[str, Any]:
        return self._meta.attrs

    @property
    def fill_value(self) -> Any:
        return self._meta.fill_value[()]

    @property
    def zarr_format(self) -> int:
        return self._meta.zarr_format

    @property
    def codecs(self) -> list[str]:
        return list(self._meta.codec_names)

    @property
    def metadata(self) -> ArrayMeta:
        """The parsed zarr metadata (chunk keys, codecs, shard layout)."""
        return self._meta

    @property
    def dimension_names(self) -> list[str | None] | None:
        return self._meta.dimension_names

    @property
    def path(self) -> str:
        return self._meta.path.rstrip("/")

    @property
    def store(self) -> Store:
        return self._store

    def __len__(self) -> int:
        if not self._meta.shape:
            raise TypeError("len() of unsized object")
        return self._meta.shape[0]

    def __repr__(self) -> str:
        return (
            f"<fastchunk.Array {self._store.name}/{self.path} shape={self.shape} "
            f"dtype={self.dtype} chunks={self.chunks}>"
        )

    # ------------------------------------------------------------ reading
    def __getitem__(self, key: Any) -> Any:
        sel = orthogonalize(key, self._meta.shape)
        out = np.empty(sel.counts, dtype=self._meta.dtype)
        self._read(sel.indices, out)
        result = shape_result(out, sel)
        if result.ndim == 0:
            return result[()]
        return result

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        out = np.asarray(out)
        return out if dtype is None else out.astype(dtype, copy=False)

    def take(self, indices: Any, axis: int = 0, out: Any = None) -> Any:
        """Rows `indices` along `axis`, in that order (duplicates and negative
        indices allowed), like numpy.take. With `out` (a numpy array or a CPU
        torch tensor, pinned or not) the result is written into it and `out` is
        returned."""
        ndim = self.ndim
        if not -ndim <= axis < ndim:
            raise np.exceptions.AxisError(axis, ndim) if hasattr(np, "exceptions") else IndexError(
                f"axis {axis} is out of bounds for array of dimension {ndim}"
            )
        axis %= ndim
        kind = np.asarray(indices).dtype.kind
        if np.size(indices) and kind not in "iub":  # numpy.take: TypeError, not IndexError
            raise TypeError(f"take() indices must be integers, got an array of kind {kind!r}")
        idx = normalize_array_index(indices, self._meta.shape[axis], axis)
        flat = idx.reshape(-1)
        axes = [flat if d == axis else np.arange(n, dtype=np.int64)
                for d, n in enumerate(self._meta.shape)]
        counts = [a.shape[0] for a in axes]
        shape = self._meta.shape[:axis] + idx.shape + self._meta.shape[axis + 1 :]
        if out is None:
            result = np.empty(counts, dtype=self._meta.dtype)
            self._read(axes, result)
            return result.reshape(shape)
        target = _writable_view(out, shape, self._meta.dtype)
        if target is not None:
            self._read(axes, target)
            return out
        tmp = np.empty(counts, dtype=self._meta.dtype)
        self._read(axes, tmp)
        _assign(out, tmp.reshape(shape))
        return out

    def read_orthogonal(self, indices: list[np.ndarray], out: np.ndarray) -> None:
        """Low level: one int64 index vector per axis, C-contiguous `out`."""
        self._read(indices, out)

    def _read(self, indices: list[np.ndarray], out: np.ndarray) -> None:
        if out.size == 0:
            return
        meta = self._meta
        if meta.vlen is not None:
            read_items(self, indices, out)
            return
        buf = out.reshape(-1).view(np.uint8)
        if meta.fallback is not None:
            warn_slow(meta.slow_codecs)
            self._native.read_into(indices, buf, self._decoded_objects(indices))
        elif self._store.local_root is not None:
            self._native.read_into(indices, buf)
        else:
            try:
                if not self._read_streaming(indices, buf):
                    self._native.read_into(indices, buf, self._fetch_remote(indices, True))
            except _core.NotFetched:
                # A cached chunk was evicted between planning and reading.
                self._native.read_into(indices, buf, self._fetch_remote(indices, False))

    def _read_streaming(self, indices: list[np.ndarray], buf: np.ndarray) -> bool:
        """Remote reads of more objects than one round of requests: decoding
        starts with the first objects to arrive, while the rest are in flight.
        False when the store or the request does not call for it, or with
        FASTCHUNK_STREAM_DECODE=0 (with 20 ms per request it measured up to 2x
        faster; on loopback with no latency, where the S3 server shares the
        cores, slower: benchmarks/README.md, S3)."""
        iter_many = getattr(self._store, "iter_many", None)
        if iter_many is None or self._meta.shard is not None or not _stream_decode():
            return False
        todo = self._native.needed_keys(indices, True)
        # Streaming pays only when the objects take several rounds of
        # requests; each decode call then gets half a round of them.
        concurrency = int(getattr(self._store, "concurrency", 32))
        if len(todo) <= concurrency:
            return False
        step = max(2 * _core.get_num_threads(), concurrency // 2)
        cached: set[str] = set()
        if _core.get_cache_info()["capacity"]:
            cached = set(self._native.needed_keys(indices, False)).difference(todo)
        wanted = set(todo)
        left = len(todo)
        first = True
        batch: dict[str, Any] = {}
        for key, blob in iter_many(todo):
            if blob is None and self._meta.nested_fallback:
                blob = self._store.get(self._nested_key(key))
            batch[key] = blob
            if len(batch) < step and len(batch) < left:
                continue
            left -= len(batch)
            # Each call decodes the objects of its batch only; chunks in the
            # cache are copied by the first call.
            skip = wanted.difference(batch)
            if not first:
                skip |= cached
            self._native.read_into(indices, buf, batch, skip)
            first = False
            batch = {}
        return True

    def _fetch_remote(self, indices: list[np.ndarray], skip_cached: bool) -> dict[str, Any]:
        if self._meta.shard is not None and hasattr(self._store, "get_ranges"):
            # Only the shard indexes (cached) and the inner chunks needed.
            if self._shard_reader is None:
                from fastchunk.store.remote_shards import ShardReader

                self._shard_reader = ShardReader(self._store, self._meta, self._native)
            return self._shard_reader.fetch(indices)
        return self._fetch(self._native.needed_keys(indices, skip_cached))

    def _fetch(self, keys: list[str]) -> dict[str, Any]:
        objects = self._store.get_many(keys)
        if self._meta.nested_fallback:
            missing = [k for k, v in objects.items() if v is None]
            if missing:
                nested = {k: self._nested_key(k) for k in missing}
                found = self._store.get_many(nested.values())
                for k, nk in nested.items():
                    objects[k] = found.get(nk)
        return objects

    def _nested_key(self, key: str) -> str:
        prefix = self._meta.path
        return prefix + key[len(prefix) :].replace(".", "/")

    def _decoded_objects(self, indices: list[np.ndarray]) -> dict[str, Any]:
        keys = self._native.needed_keys(indices)
        raw = self._fetch(keys)
        decode = self._meta.fallback
        objects: dict[str, Any] = {}
        for k, v in raw.items():
            try:
                objects[k] = None if v is None else decode(v)
            except ChunkDecodeError as e:
                raise ChunkDecodeError(f"{self._store.name}: chunk '{k}': {e}") from None
        return objects


def _reopen(store: Store, path: str, shared_cache: tuple[str, int] | None = None) -> Array:
    import fastchunk
    from fastchunk import cache

    if shared_cache is not None and cache.shared_cache_name() is None:
        cache.set_shared_cache(*shared_cache)
    return fastchunk.open_array(store, path or None)


def _stream_decode() -> bool:
    return os.environ.get("FASTCHUNK_STREAM_DECODE", "1") not in ("", "0", "false", "no")


def _writable_view(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """A numpy view sharing `out`'s memory when it is C-contiguous with the
    right shape and dtype; None when the result must be copied in."""
    if type(out).__module__.startswith("torch"):
        if out.device.type != "cpu" or not out.is_contiguous():
            return None
        if tuple(out.shape) != tuple(shape):
            raise ValueError(f"out has shape {tuple(out.shape)}, expected {shape}")
        try:
            arr = out.detach().numpy()
        except (TypeError, RuntimeError):
            return None
        if arr.dtype != dtype:
            return None
        return arr
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array or torch tensor, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype or not out.flags.c_contiguous or not out.flags.writeable:
        return None
    return out


def _assign(out: Any, value: np.ndarray) -> None:
    if type(out).__module__.startswith("torch"):
        import torch

        out.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        return
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    np.copyto(out, value, casting="same_kind")
