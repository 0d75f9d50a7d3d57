"""The numpy-like Array."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk._indexing import normalize_array_index, orthogonalize, shape_result
from fastchunk._item_reads import read_items
from fastchunk.store import Store
from fastchunk.store.serve import fetch, serve
from fastchunk.zarr.fallback import warn_slow
from fastchunk.zarr.metadata import ArrayMeta


class Array:
    """A zarr array opened for reading. Index it like a numpy array."""

    def __init__(self, store: Store, meta: ArrayMeta) -> None:
        self._store = store
        self._meta = meta
        self._native = self._make_native(meta)
        self._native.coalesce = not getattr(store, "keeps_ranges", False)

    def _make_native(self, meta: ArrayMeta) -> _core.NativeArray:
        fallback = meta.fallback is not None
        shard = meta.shard.core_spec() if meta.shard is not None and not fallback else None
        # Variable-length items: the core reads int64 item numbers (0 = the
        # fill value), zarr/strings.py looks the items up.
        vlen = meta.vlen is not None
        return _core.NativeArray(
            store_name=self._store.name,
            store_id=_store_id(self._store),
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
            # The versions the store learned (local files: size, mtime, inode;
            # objects: size and a strong validator): cached shard indexes and
            # decoded chunks are found under them.
            known_versions=self._store.known_versions,
            # Chunks decoded in Python reach the core as bytes: what decoded
            # them names them in the decoded caches (data type, byte order, codecs).
            decoding=json.dumps([meta.zarr_format, meta.stored_dtype.str, meta.vlen,
                                 list(meta.codec_names)]) if fallback else None,
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
        out = _new_output(sel.counts, self._meta.dtype)
        self._read(sel.indices, out)
        result = shape_result(out, sel)
        if result.ndim == 0:
            return result[()]
        return result

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[...]
        out = np.asarray(out)
        return out if dtype is None else out.astype(dtype, copy=False)

    def take(
        self, indices: Any, axis: int = 0, out: Any = None, num_threads: int | None = None
    ) -> Any:
        """Rows `indices` along `axis`, in that order (duplicates and negative
        indices allowed), like numpy.take. With `out` (a numpy array or a CPU
        torch tensor, pinned or not) the result is written into it and `out` is
        returned; it must have the result's shape and the array's dtype (values
        are never cast: TypeError otherwise). A C-contiguous `out` is written
        in place; a strided or transposed one, or a tensor on a GPU, through
        one extra copy. `num_threads` native threads decode this call
        (default: the process-wide setting, which it leaves alone)."""
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
        # The other axes whole: runs, which the core plans without tables.
        axes: list[Any] = [flat if d == axis else range(n) for d, n in enumerate(self._meta.shape)]
        counts = [len(a) for a in axes]
        shape = self._meta.shape[:axis] + idx.shape + self._meta.shape[axis + 1 :]
        if out is None:
            result = _new_output(counts, self._meta.dtype)
            self._read(axes, result, num_threads)
            return result.reshape(shape)
        target = _writable_view(out, shape, self._meta.dtype)
        if target is not None:
            self._read(axes, target, num_threads)
            return out
        tmp = np.empty(counts, dtype=self._meta.dtype)
        self._read(axes, tmp, num_threads)
        _assign(out, tmp.reshape(shape))
        return out

    def read_orthogonal(
        self, indices: Sequence[Any], out: np.ndarray, num_threads: int | None = None
    ) -> None:
        """Low level: per axis a 1-D integer array of positions in [0, n) (no
        negative indices) or a `range` (a run: a slice or a whole axis, planned
        without a per-position table), and `out`, a writable C-contiguous numpy
        array of this array's dtype and of shape (len(indices[0]), ...),
        written in place (or a transpose of one: an output whose innermost
        axis is another, such as anemoi-training's variables last). Anything
        else raises TypeError, ValueError or IndexError."""
        if not isinstance(out, np.ndarray):
            raise TypeError(f"out must be a numpy array, got {type(out).__name__}")
        if out.dtype != self._meta.dtype:
            raise TypeError(f"out has dtype {out.dtype}, the array {self._meta.dtype}")
        if not isinstance(indices, (list, tuple)) or len(indices) != self.ndim:
            raise IndexError(f"read_orthogonal needs a list of {self.ndim} index arrays")
        arrays = [i if type(i) is range else np.asarray(i) for i in indices]
        for d, a in enumerate(arrays):
            if type(a) is not range and a.ndim != 1:
                raise IndexError(f"the index array of axis {d} has {a.ndim} dimensions, not 1")
        counts = tuple(len(a) for a in arrays)
        if out.shape != counts:
            raise ValueError(f"out has shape {out.shape}, the selection {counts}")
        self._read(arrays, out, num_threads)

    def fetch_requests(self, indices: Sequence[Any]) -> list[tuple[Any, list[Any]]]:
        """[(store, requests)]: what a read_orthogonal(indices) will ask a
        remote store for (whole objects (key, 0, None), ranges (key, offset,
        length)), for fetching ahead (fastchunk.store.fetch_ahead); the shard
        indexes it needs are fetched now, into the index cache. [] for local
        stores. The read itself must still run."""
        store = self._store
        # A store whose chunk keys name other objects (an Icechunk snapshot)
        # says itself which requests of which stores a read will make.
        of_store = getattr(store, "fetch_requests_of", None)
        if of_store is not None:
            return list(of_store(self, indices))
        if store.local_root is not None or not hasattr(store, "ahead_buffer"):
            return []
        requests = self.planned_requests(indices)
        return [] if requests is None else [(store, requests)]

    def planned_requests(self, indices: Sequence[Any]) -> list[Any] | None:
        """The requests of chunk keys a remote read_orthogonal(indices) will
        make (as fetch_requests; the shard indexes fetched now), or None where
        no read plan serves the array (variable-length items)."""
        store = self._store
        if self._meta.vlen is not None:
            return None
        arrays = [i if type(i) is range else np.asarray(i) for i in indices]
        plan = self._native.plan(arrays, None, 1)
        requests = plan.pending()
        for _ in range(4):  # index rounds: a key still lacking its index has a suffix request
            index_keys = {key for key, offset, _ in requests if offset is None}
            if not index_keys:
                break
            index = [r for r in requests if r[0] in index_keys]
            plan.provide(index, fetch(store, index))
            requests = plan.pending()
        return [r for r in requests if r[1] is not None]

    def _read(
        self,
        indices: list[Any],
        out: np.ndarray,
        num_threads: int | None = None,
        *,
        stream: bool = True,
    ) -> None:
        """Reads the orthogonal selection `indices` into `out`, a writable
        array of this array's dtype, C-contiguous or a transpose of a
        C-contiguous array (an output with another innermost axis, written by
        tiles as chunks decode), written in place, never through a copy."""
        threads = _thread_count(num_threads)
        meta = self._meta
        if meta.vlen is not None:
            if not (out.flags.c_contiguous and out.flags.writeable):
                raise ValueError("out must be writable and C-contiguous")
            read_items(self, indices, out, threads)
            return
        buf, strides = _output_layout(out)
        # Stores whose chunk keys are no files (an Icechunk snapshot) may read
        # a local selection in one call of the core; else a read plan serves it.
        read_local = getattr(self._store, "read_local", None)
        if (
            meta.fallback is None and read_local is not None
            and read_local(self, indices, buf, threads, strides)
        ):  # fmt: skip
            return
        if meta.fallback is not None:
            warn_slow(meta.slow_codecs)
            plan = self._native.plan(indices, buf, threads, strides=strides)
            serve(plan, self._store, decode=lambda _key, blob: meta.fallback(blob))
        elif self._store.local_root is not None:
            self._native.read(indices, buf, threads, strides)
        else:
            plan = self._native.plan(indices, buf, threads, strides=strides)
            serve(plan, self._store, stream=stream)


def _reopen(store: Store, path: str, shared_cache: tuple[str, int] | None = None) -> Array:
    import fastchunk
    from fastchunk import cache

    if shared_cache is not None and cache.shared_cache_name() is None:
        cache.set_shared_cache(*shared_cache)
    return fastchunk.open_array(store, path or None)


def _new_output(shape: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """A fresh output for a read, like numpy.empty; large ones come from the
    core's buffer pool (reused memory: no page faults; fresh memory populated
    in bulk by idle threads while the read decodes into it). Object and
    string outputs are numpy's own."""
    if dtype.kind in "OTU":
        return np.empty(shape, dtype=dtype)
    return _core.empty(tuple(shape), dtype)


def _output_layout(out: np.ndarray) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """(out's memory as bytes, its strides) for an output that is writable
    and C-contiguous up to the order of its axes; strides None in C order."""
    if not out.flags.writeable:
        raise ValueError("out must be writable")
    if out.flags.c_contiguous:
        return out.reshape(-1).view(np.uint8), None
    order = sorted(range(out.ndim), key=lambda d: -out.strides[d])
    base = out.transpose(order)
    if not base.flags.c_contiguous or min(out.strides, default=0) < 0:
        raise ValueError("out must be C-contiguous, or a transpose of a C-contiguous array")
    return base.reshape(-1).view(np.uint8), tuple(int(s) for s in out.strides)


def _thread_count(num_threads: int | None) -> int:
    """The core's per-call thread count: 0 for the process-wide setting."""
    if num_threads is None:
        return 0
    n = int(num_threads)
    if n < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    return n


# Numbers the arrays opened over stores without a store_id (never reused,
# unlike id(): CPython gives a freed object's address to the next one).
_anonymous_stores = itertools.count()


def _store_id(store: Any) -> str:
    """What names the store in cache keys. An array over a store of another
    library without a store_id shares nothing with any other array."""
    sid = getattr(store, "store_id", None)
    if isinstance(sid, str) and sid:
        return sid
    return f"object:{type(store).__qualname__}:{store.name}:{os.getpid()}:{next(_anonymous_stores)}"


def _writable_view(out: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """A numpy view sharing `out`'s memory when it is C-contiguous in this
    process's memory; None when the result must be copied in (a strided or
    transposed `out`, a tensor on a GPU). Raises before anything is written
    when `out` is of another shape or dtype (values are never cast) or
    read-only."""
    if type(out).__module__.startswith("torch"):
        if tuple(out.shape) != tuple(shape):
            raise ValueError(f"out has shape {tuple(out.shape)}, expected {shape}")
        if _numpy_dtype_of_tensor(out) != dtype:
            raise TypeError(f"out has dtype {out.dtype}, the array {dtype}: take writes the "
                            f"array's values as they are (cast afterwards if you need to)")
        if out.device.type != "cpu" or not out.is_contiguous():
            return None
        return out.detach().numpy()
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array or torch tensor, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"out has dtype {out.dtype}, the array {dtype}: take writes the "
                        f"array's values as they are (cast afterwards if you need to)")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return out if out.flags.c_contiguous else None


def _numpy_dtype_of_tensor(tensor: Any) -> np.dtype | None:
    """The numpy dtype of a torch tensor's elements; None where numpy has
    none (bfloat16)."""
    import torch

    try:
        return torch.empty(0, dtype=tensor.dtype).numpy().dtype
    except (TypeError, RuntimeError):
        return None


def _assign(out: Any, value: np.ndarray) -> None:
    if type(out).__module__.startswith("torch"):
        import torch

        out.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        return
    np.copyto(out, value, casting="no")
