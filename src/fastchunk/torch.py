"""PyTorch integration: a map-style dataset, a distributed batch sampler and a
prefetching loader that writes batches into a ring of reusable (pinned) host
buffers and, with a CUDA device, copies them on a side stream.

    loader = fastchunk.torch.Loader("era5.zarr", batch_size=8, offsets=[-1, 0, 1],
                                    normalize=(mean, std), dtype=torch.bfloat16)
    for epoch in range(10):
        loader.set_epoch(epoch)
        for batch in loader:          # (8, 3, variables, ensembles, gridpoints)
            step(batch)

A CPU batch yielded by Loader lives in a ring buffer: it is valid until the
next batch is requested (clone it to keep it), the contract that lets the
loader fill pinned memory once and never allocate per batch.
"""

from __future__ import annotations

import copy
import math
import os
import queue
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

import fastchunk
from fastchunk import _core
from fastchunk._indexing import normalize_array_index
from fastchunk.array import Array

__all__ = ["ArrayDataset", "Loader", "ShardedBatchSampler", "Transform"]

_OUT_TYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
_DTYPE_NAMES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
}


def _torch_dtype(dtype: Any) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        result = dtype
    elif isinstance(dtype, str) and dtype in _DTYPE_NAMES:
        result = _DTYPE_NAMES[dtype]
    else:
        result = torch.from_numpy(np.empty(0, dtype=np.dtype(dtype))).dtype
    if result not in _OUT_TYPES:
        raise ValueError(f"dtype must be float32, float16 or bfloat16, got {dtype!r}")
    return result


def _numpy_to_torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _numpy_view(t: torch.Tensor) -> np.ndarray:
    """A numpy array sharing a contiguous CPU tensor's memory (bfloat16 is
    seen as int16: the bytes are what matter)."""
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy()
    return t.numpy()


# ---------------------------------------------------------------- transforms


class Transform:
    """Preprocessing fused into the copy of each decoded batch, in C++:
    `normalize=(mean, std)` per channel along array axis `axis` (values for
    every index of that axis, or for the selected ones, or scalars), NaN
    replaced by `nan` (in output units, after normalization), and the cast to
    `dtype` (float32, float16 or bfloat16)."""

    def __init__(
        self,
        normalize: tuple[Any, Any] | None = None,
        axis: int | None = None,
        nan: float | None = None,
        dtype: Any = None,
    ) -> None:
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        if normalize is not None:
            if len(normalize) != 2:
                raise ValueError("normalize must be a (mean, std) pair")
            self.mean = np.atleast_1d(np.asarray(normalize[0], dtype=np.float32)).reshape(-1)
            self.std = np.atleast_1d(np.asarray(normalize[1], dtype=np.float32)).reshape(-1)
            if self.mean.shape != self.std.shape:
                raise ValueError(
                    f"mean and std differ in length: {self.mean.size} and {self.std.size}"
                )
            if not np.all(np.isfinite(self.std)) or np.any(self.std == 0):
                raise ValueError("std must be finite and non-zero")
        self.axis = axis
        self.nan = None if nan is None else float(nan)
        self.dtype = None if dtype is None else _torch_dtype(dtype)

    def __repr__(self) -> str:
        return (
            f"Transform(normalize={'yes' if self.mean is not None else None}, "
            f"axis={self.axis}, nan={self.nan}, dtype={self.dtype})"
        )


class _BoundTransform:
    """A Transform resolved against a dataset's batch layout."""

    def __init__(self, transform: Transform, ds: ArrayDataset) -> None:
        self.out_dtype = transform.dtype or torch.float32
        self.out_code = _core.TRANSFORM_OUT_TYPES[_OUT_TYPES[self.out_dtype]]
        self.nan = transform.nan
        self.mean = self.std = None
        self.channel_dim: int | None = None  # dim of the batch holding the channels
        if transform.mean is None:
            return
        assert transform.std is not None
        mean, std = transform.mean, transform.std
        if mean.size == 1:
            self.mean, self.std = mean, std
            return
        axis = transform.axis
        if axis is None:
            kept = [a for a in range(ds.array_ndim) if a != ds.axis and a not in ds.dropped]
            if not kept:
                raise ValueError("per-channel normalize needs an axis besides the sample axis")
            axis = kept[0]
        if not -ds.array_ndim <= axis < ds.array_ndim:
            raise ValueError(f"normalize axis {axis} out of range for {ds.array_ndim} dims")
        axis %= ds.array_ndim
        if axis == ds.axis or axis in ds.dropped:
            raise ValueError(f"normalize axis {axis} is the sample axis or selected away")
        chosen = ds.axis_indices[axis]
        full = ds.array_shape[axis]
        if mean.size == full:
            mean, std = mean[chosen], std[chosen]
        elif mean.size != chosen.size:
            raise ValueError(
                f"normalize has {mean.size} values; axis {axis} has {full} ({chosen.size} selected)"
            )
        self.mean = np.ascontiguousarray(mean)
        self.std = np.ascontiguousarray(std)
        self.channel_dim = ds.batch_dim_of_axis(axis)

    def apply(self, src: np.ndarray, dst: torch.Tensor) -> None:
        """src: float32 batch; dst: a contiguous CPU tensor of the same shape."""
        shape = tuple(src.shape)
        if self.channel_dim is None:
            outer, channels, inner = 1, 1, math.prod(shape)
        else:
            d = self.channel_dim
            outer, channels, inner = math.prod(shape[:d]), shape[d], math.prod(shape[d + 1 :])
        _core.transform_batch(
            src,
            _numpy_view(dst).reshape(-1).view(np.uint8),
            outer,
            channels,
            inner,
            self.mean,
            self.std,
            self.nan,
            self.out_code,
        )


# ---------------------------------------------------------------- dataset


def _parse_missing(values: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integer positions along the sample axis, got {arr[:3]}")
    arr = arr.astype(np.int64).reshape(-1)
    arr = np.where(arr < 0, arr + n, arr)
    return np.unique(arr[(arr >= 0) & (arr < n)])


_FREQUENCY_UNITS = {"d": "D", "h": "h", "m": "m", "min": "m", "s": "s"}


def _frequency(value: Any) -> np.timedelta64:
    """anemoi-style frequency: an int (hours) or '6h', '1d', '30m', '10s'."""
    if isinstance(value, (int, np.integer)):
        return np.timedelta64(int(value), "h")
    text = str(value).strip().lower()
    digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = _FREQUENCY_UNITS.get(text[len(digits) :])
    if not digits or unit is None:
        raise ValueError(f"cannot read frequency {value!r}")
    return np.timedelta64(int(digits), unit)


def _positions_from_attrs(value: Any, attrs: dict[str, Any], n: int, what: str) -> np.ndarray:
    """Missing rows given as positions, or as dates with attrs 'start_date'
    and 'frequency' (anemoi datasets)."""
    try:
        return _parse_missing(value, n, what)
    except ValueError:
        if "start_date" not in attrs or "frequency" not in attrs:
            raise
    dates = np.asarray(list(value), dtype="datetime64[s]")
    step = _frequency(attrs["frequency"]).astype("timedelta64[s]")
    start = np.datetime64(str(attrs["start_date"]), "s")
    offsets = (dates - start).astype(np.int64)
    if np.any(offsets % step.astype(np.int64)):
        raise ValueError(f"{what} holds dates off the {attrs['frequency']} grid")
    return _parse_missing(offsets // step.astype(np.int64), n, what)


def _missing_from_attrs(array: Array, n: int) -> np.ndarray:
    """Missing rows named by the array's attrs, else by its root group's."""
    sources = [array.attrs]
    if array.path:
        try:
            sources.append(fastchunk.open_group(array.store).attrs)
        except (fastchunk.FastchunkError, OSError, TypeError):
            pass
    for attrs in sources:
        for key in ("missing_dates", "missing"):
            value = attrs.get(key)
            if value is None:
                continue
            try:
                return _positions_from_attrs(value, attrs, n, f"attrs[{key!r}]")
            except (ValueError, TypeError):
                warnings.warn(
                    f"attrs[{key!r}] holds neither positions nor dates on the "
                    "start_date/frequency grid; pass missing= explicitly",
                    stacklevel=4,
                )
    return np.zeros(0, dtype=np.int64)


def _axis_selection(sel: Any, n: int, axis: int) -> tuple[np.ndarray, bool]:
    """(int64 positions, dropped) for one axis' entry of `select`."""
    if isinstance(sel, slice):
        return np.arange(*sel.indices(n), dtype=np.int64), False
    if isinstance(sel, (int, np.integer)) and not isinstance(sel, (bool, np.bool_)):
        return normalize_array_index(np.asarray([sel]), n, axis), True
    idx = normalize_array_index(sel, n, axis)
    if idx.ndim != 1:
        raise IndexError(f"select for axis {axis} must be one-dimensional")
    return idx, False


class ArrayDataset(torch.utils.data.Dataset):
    """Samples along `axis` of a zarr array, map-style.

    `offsets` makes each sample a window of rows around its anchor (e.g.
    [-1, 0, 1, 2]); anchors whose window runs off the array or into a missing
    row (`missing=`, else the array's attrs "missing_dates" / "missing") are
    skipped, so index i is the i-th valid anchor (`anchors[i]`). `select` picks
    from the other axes: a dict {axis: int | slice | indices | mask}, or a
    tuple with one entry per other axis (an int drops that axis). `transform`
    is a `Transform` (fused, native) or a callable applied to each batch
    tensor of shape (n, ...).

    `__getitems__` reads a whole batch in one native call. Datasets pickle by
    store location and reopen in worker processes (fork, spawn, forkserver).
    """

    def __init__(
        self,
        array: Array | str | os.PathLike[str],
        axis: int = 0,
        offsets: Sequence[int] | None = None,
        select: dict[int, Any] | Sequence[Any] | None = None,
        transform: Transform | Callable[[torch.Tensor], Any] | None = None,
        missing: Sequence[int] | None = None,
        path: str | None = None,
    ) -> None:
        if not isinstance(array, Array):
            array = fastchunk.open_array(array, path)
        self._array: Array | None = array
        store = array.store
        self._location = (
            getattr(store, "url", None) or store.name,
            array.path,
            getattr(store, "storage_options", None),
        )
        self.array_shape = tuple(array.shape)
        self.array_ndim = len(self.array_shape)
        self.dtype = array.dtype
        if self.array_ndim == 0:
            raise ValueError("a 0-d array has no samples")
        if not -self.array_ndim <= axis < self.array_ndim:
            raise ValueError(f"axis {axis} out of range for {self.array_ndim} dims")
        self.axis = axis % self.array_ndim
        self.chunk_len = int(array.chunks[self.axis])
        n = self.array_shape[self.axis]

        self.offsets = None if offsets is None else np.asarray(offsets, dtype=np.int64).reshape(-1)
        if self.offsets is not None and self.offsets.size == 0:
            raise ValueError("offsets must not be empty")
        self._parse_select(select)

        if missing is None:
            self.missing = _missing_from_attrs(array, n)
        else:
            self.missing = _parse_missing(missing, n, "missing")
        self.anchors = self._valid_anchors(n)

        self._set_transform(transform)

    # ---- layout
    def _parse_select(self, select: Any) -> None:
        others = [a for a in range(self.array_ndim) if a != self.axis]
        if select is None:
            entries: dict[int, Any] = {}
        elif isinstance(select, dict):
            entries = {}
            for a, s in select.items():
                if not -self.array_ndim <= a < self.array_ndim or a % self.array_ndim == self.axis:
                    raise ValueError(f"select axis {a} is out of range or the sample axis")
                entries[a % self.array_ndim] = s
        else:
            select = tuple(select)
            if len(select) > len(others):
                raise ValueError(f"select has {len(select)} entries, only {len(others)} axes")
            entries = dict(zip(others, select, strict=False))
        self.axis_indices: dict[int, np.ndarray] = {}
        self.dropped: set[int] = set()
        for a in others:
            n = self.array_shape[a]
            if a in entries:
                idx, drop = _axis_selection(entries[a], n, a)
                if drop:
                    self.dropped.add(a)
            else:
                idx = np.arange(n, dtype=np.int64)
            self.axis_indices[a] = idx

    def _valid_anchors(self, n: int) -> np.ndarray:
        offsets = self.offsets if self.offsets is not None else np.zeros(1, dtype=np.int64)
        lo, hi = -int(offsets.min()), n - int(offsets.max())
        anchors = np.arange(max(lo, 0), max(hi, 0), dtype=np.int64)
        if self.missing.size and anchors.size:
            bad = np.zeros(anchors.shape, dtype=bool)
            for o in np.unique(offsets):
                bad |= np.isin(anchors + o, self.missing)
            anchors = anchors[~bad]
        return anchors

    @property
    def window(self) -> int:
        return 1 if self.offsets is None else int(self.offsets.size)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        shape: list[int] = []
        for a in range(self.array_ndim):
            if a == self.axis:
                if self.offsets is not None:
                    shape.append(self.window)
            elif a not in self.dropped:
                shape.append(int(self.axis_indices[a].size))
        return tuple(shape)

    def batch_dim_of_axis(self, axis: int) -> int:
        """The dim of a batch (n, *sample_shape) that holds array axis `axis`."""
        dim = 1
        for a in range(axis):
            if a == self.axis:
                dim += self.offsets is not None
            elif a not in self.dropped:
                dim += 1
        return dim

    @property
    def chunk_ids(self) -> np.ndarray:
        """For each sample, the chunk along the sample axis holding its anchor."""
        return self.anchors // self.chunk_len

    @property
    def array(self) -> Array:
        if self._array is None:
            location, path, options = self._location
            self._array = fastchunk.open_array(location, path or None, options)
        return self._array

    @property
    def needs_staging(self) -> bool:
        return self._fused is not None and (
            self.out_dtype != torch.float32 or self.dtype != np.float32
        )

    @property
    def out_dtype(self) -> torch.dtype:
        if self._fused is not None:
            return self._fused.out_dtype
        return _numpy_to_torch_dtype(self.dtype)

    def with_transform(self, transform: Transform | Callable[[torch.Tensor], Any] | None) -> Any:
        """A copy of this dataset with another transform."""
        other = copy.copy(self)
        other._set_transform(transform)
        return other

    def _set_transform(self, transform: Transform | Callable[[torch.Tensor], Any] | None) -> None:
        if isinstance(transform, Transform):
            self._fused: _BoundTransform | None = _BoundTransform(transform, self)
            self._callable = None
        else:
            self._fused = None
            self._callable = transform
        self.transform = transform

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_array"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __len__(self) -> int:
        return int(self.anchors.size)

    def __repr__(self) -> str:
        return (
            f"<fastchunk.torch.ArrayDataset {self._location[0]}/{self._location[1]} "
            f"samples={len(self)} sample_shape={self.sample_shape}>"
        )

    # ---- reading
    def _positions(self, items: Any) -> np.ndarray:
        pos = np.asarray(items, dtype=np.int64).reshape(-1)
        n = len(self)
        if pos.size and (pos.min() < -n or pos.max() >= n):
            raise IndexError(f"sample index out of range for a dataset of {n} samples")
        return np.where(pos < 0, pos + n, pos)

    def read_into(self, items: Any, out: np.ndarray) -> None:
        """Reads samples `items` (positions in this dataset) in the array's
        dtype into `out`, C-contiguous with shape (len(items), *sample_shape)."""
        pos = self._positions(items)
        rows = self.anchors[pos]
        if self.offsets is not None:
            rows = (rows[:, None] + self.offsets[None, :]).reshape(-1)
        indices = [rows if a == self.axis else self.axis_indices[a] for a in range(self.array_ndim)]
        counts = [int(i.size) for i in indices]
        if self.axis == 0:
            self.array.read_orthogonal(indices, out.reshape(counts))
            return
        raw = np.empty(counts, dtype=self.dtype)
        self.array.read_orthogonal(indices, raw)
        split = counts[: self.axis] + [pos.size, self.window] + counts[self.axis + 1 :]
        moved = np.moveaxis(raw.reshape(split), self.axis, 0)
        np.copyto(out.reshape((pos.size,) + moved.shape[1:]), moved)

    def read_batch(
        self, items: Any, out: torch.Tensor | None = None, staging: np.ndarray | None = None
    ) -> Any:
        """A batch tensor (n, *sample_shape) with the fused transform applied,
        written into `out` (a contiguous CPU tensor) when given; the callable
        transform, if any, is applied last and its result returned. `staging`
        (array dtype, at least n samples) holds the decoded batch before the
        fused transform, when its output is not float32 over a float32 array."""
        pos = self._positions(items)
        shape = (pos.size, *self.sample_shape)
        if out is None:
            out = torch.empty(shape, dtype=self.out_dtype)
        elif tuple(out.shape) != shape or out.dtype != self.out_dtype:
            raise ValueError(f"out must be {self.out_dtype} of shape {shape}")
        if self._fused is None:
            self.read_into(pos, _numpy_view(out))
        elif self.needs_staging:
            staging = np.empty(shape, dtype=self.dtype) if staging is None else staging[: pos.size]
            self.read_into(pos, staging)
            self._fused.apply(staging.astype(np.float32, copy=False), out)
        else:  # decode into `out`, transform in place
            view = _numpy_view(out)
            self.read_into(pos, view)
            self._fused.apply(view, out)
        if self._callable is not None:
            return self._callable(out)
        return out

    def __getitems__(self, items: list[int]) -> list[Any]:
        batch = self.read_batch(items)
        return list(batch)

    def __getitem__(self, item: int) -> Any:
        return self.read_batch([item])[0]


# ---------------------------------------------------------------- sampler


def _dist_default(rank: int | None, world_size: int | None) -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank() if rank is None else rank
        world_size = dist.get_world_size() if world_size is None else world_size
    rank = 0 if rank is None else int(rank)
    world_size = 1 if world_size is None else int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    return rank, world_size


def _batch_sizes(n: int, nbatches: int, batch_size: int) -> list[int]:
    """Splits n samples into nbatches batches of at most batch_size, full
    batches first, none empty (n >= nbatches)."""
    sizes = []
    remaining = n
    for i in range(nbatches):
        size = min(batch_size, remaining - (nbatches - i - 1))
        sizes.append(size)
        remaining -= size
    return sizes


class ShardedBatchSampler:
    """Batches of sample positions for one rank, deterministic in (seed, epoch).

    Every epoch is a permutation of all samples (or, with `chunk_ids`, a
    shuffle of chunk groups then of samples within each group), split into
    contiguous, disjoint rank shares; every rank gets the same number of
    batches. drop_last=True: only full batches, the remainder dropped.
    drop_last=False: every sample once; the last batches of a rank may be
    smaller (a sample is repeated only when there are fewer samples than
    batches to fill). Usable as DataLoader(batch_sampler=...)."""

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        chunk_ids: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = _dist_default(rank, world_size)
        if chunk_ids is not None:
            chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
            if chunk_ids.shape != (self.num_samples,):
                raise ValueError("chunk_ids needs one entry per sample")
        self.chunk_ids = chunk_ids
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The global sample order of an epoch (the same on every rank)."""
        n = self.num_samples
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = np.random.default_rng([self.seed, epoch])
        if self.chunk_ids is None:
            return rng.permutation(n).astype(np.int64)
        groups, dense = np.unique(self.chunk_ids, return_inverse=True)
        group_rank = np.empty(groups.size, dtype=np.int64)
        group_rank[rng.permutation(groups.size)] = np.arange(groups.size)
        within = rng.random(n)
        return np.lexsort((within, group_rank[dense])).astype(np.int64)

    def __len__(self) -> int:
        n, w, b = self.num_samples, self.world_size, self.batch_size
        if self.drop_last:
            return n // (w * b)
        per_rank = -(-n // w)
        return -(-per_rank // b)

    def batches(self, epoch: int | None = None) -> list[np.ndarray]:
        epoch = self.epoch if epoch is None else epoch
        order = self.order(epoch)
        n, w, r, b = self.num_samples, self.world_size, self.rank, self.batch_size
        nbatches = len(self)
        if self.drop_last:
            share = order[r * nbatches * b : (r + 1) * nbatches * b]
            return [share[i * b : (i + 1) * b] for i in range(nbatches)]
        share = order[(n * r) // w : (n * (r + 1)) // w]
        if share.size < nbatches:  # too few samples for one per batch: repeat some
            share = np.concatenate([share, np.resize(order, nbatches - share.size)])
        out, start = [], 0
        for size in _batch_sizes(share.size, nbatches, b):
            out.append(share[start : start + size])
            start += size
        return out

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()


# ---------------------------------------------------------------- loader

_END = object()


class _Slot:
    """One reusable host buffer of the ring."""

    def __init__(self, ds: ArrayDataset, batch_size: int, pin: bool) -> None:
        shape = (batch_size, *ds.sample_shape)
        self.host = torch.empty(shape, dtype=ds.out_dtype, pin_memory=pin)
        self.staging = np.empty(shape, dtype=ds.dtype) if ds.needs_staging else None
        self.event: Any = None  # CUDA event of the last copy out of `host`


class Loader:
    """Batches of an array (or an ArrayDataset) as torch tensors of shape
    (batch, ...), assembled by native threads `prefetch` batches ahead into a
    ring of reusable host buffers (pinned when CUDA is available), with
    normalization / NaN replacement / cast fused into the copy.

    With `device` a CUDA device, each batch is copied on a side stream
    (non-blocking) and the host buffer is reused only after its copy finished.
    Use `set_epoch(e)` (the epoch also advances after each full pass),
    `len(loader)` batches per epoch and rank, `state_dict()` /
    `load_state_dict()` to resume mid-epoch. Ranks default to
    torch.distributed when initialised."""

    def __init__(
        self,
        array_or_dataset: Array | ArrayDataset | str | os.PathLike[str],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        offsets: Sequence[int] | None = None,
        select: Any = None,
        pin_memory: bool = True,
        device: Any = None,
        prefetch: int = 2,
        num_threads: int | None = None,
        normalize: tuple[Any, Any] | None = None,
        dtype: Any = None,
        *,
        nan: float | None = None,
        normalize_axis: int | None = None,
        missing: Sequence[int] | None = None,
        axis: int = 0,
        chunk_aware: bool = False,
    ) -> None:
        fused = None
        if normalize is not None or nan is not None or dtype is not None:
            fused = Transform(normalize, axis=normalize_axis, nan=nan, dtype=dtype)
        if isinstance(array_or_dataset, ArrayDataset):
            ds = array_or_dataset
            if offsets is not None or select is not None or missing is not None or axis != 0:
                raise ValueError("offsets/select/missing/axis belong to the dataset passed")
            if fused is not None:
                if ds.transform is not None:
                    raise ValueError("the dataset has a transform already")
                ds = ds.with_transform(fused)
        else:
            ds = ArrayDataset(array_or_dataset, axis, offsets, select, fused, missing)
        self.dataset = ds
        if len(ds) == 0:
            raise ValueError(f"{ds!r} has no valid samples")
        if prefetch < 1:
            raise ValueError("prefetch must be >= 1")
        self.prefetch = int(prefetch)
        self.num_threads = num_threads
        self.sampler = ShardedBatchSampler(
            len(ds),
            batch_size,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
            rank=rank,
            world_size=world_size,
            chunk_ids=ds.chunk_ids if chunk_aware else None,
        )
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self._cuda = self.device.type == "cuda"
        if self._cuda and not torch.cuda.is_available():
            raise RuntimeError(f"device {self.device} requested but CUDA is not available")
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        self._slots: list[_Slot] | None = None
        self._epoch = 0
        self._position = 0  # batches of the current epoch handed out
        self._resume: int | None = None

    @property
    def batch_size(self) -> int:
        return self.sampler.batch_size

    @property
    def epoch(self) -> int:
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        self._epoch = int(epoch)
        self._position = 0
        self._resume = None

    def __len__(self) -> int:
        return len(self.sampler)

    def state_dict(self) -> dict[str, Any]:
        s = self.sampler
        return {
            "epoch": self._epoch,
            "batches_done": self._position,
            "seed": s.seed,
            "shuffle": s.shuffle,
            "batch_size": s.batch_size,
            "drop_last": s.drop_last,
            "world_size": s.world_size,
            "rank": s.rank,
            "num_samples": s.num_samples,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        s = self.sampler
        mine = self.state_dict()
        for key in ("seed", "shuffle", "batch_size", "drop_last", "world_size", "num_samples"):
            if state[key] != mine[key]:
                raise ValueError(f"state has {key}={state[key]!r}, this loader {mine[key]!r}")
        if not 0 <= int(state["batches_done"]) <= len(s):
            raise ValueError(f"batches_done {state['batches_done']} out of range")
        self._epoch = int(state["epoch"])
        self._position = int(state["batches_done"])
        self._resume = self._position

    # ---- iteration
    def _ring(self) -> list[_Slot]:
        if self._slots is None:
            ds, pin = self.dataset, self.pin_memory
            self._slots = [_Slot(ds, self.batch_size, pin) for _ in range(self.prefetch + 1)]
        return self._slots

    def __iter__(self) -> Iterator[Any]:
        if self.num_threads is not None:
            fastchunk.set_num_threads(self.num_threads)
        start = self._resume or 0
        self._resume = None
        epoch = self._epoch
        batches = self.sampler.batches(epoch)[start:]
        self._position = start
        run = _Prefetcher(self, batches)
        try:
            for batch in run:
                self._position += 1
                yield batch
        finally:
            run.close()
        self._epoch = epoch + 1
        self._position = 0


class _Prefetcher:
    """A background thread filling ring slots in batch order; the native reads
    and transforms it calls release the GIL."""

    def __init__(self, loader: Loader, batches: list[np.ndarray]) -> None:
        self.loader = loader
        self.ds = loader.dataset
        self.batches = batches
        slots = loader._ring()
        self.free: queue.Queue[_Slot] = queue.Queue()
        for slot in slots:
            self.free.put(slot)
        self.ready: queue.Queue[Any] = queue.Queue()
        self.stop = threading.Event()
        self.held: _Slot | None = None
        self.stream = torch.cuda.Stream(device=loader.device) if loader._cuda else None
        self.thread = threading.Thread(target=self._work, name="fastchunk-prefetch", daemon=True)
        self.thread.start()

    def _next_free(self) -> _Slot | None:
        while not self.stop.is_set():
            try:
                return self.free.get(timeout=0.05)
            except queue.Empty:
                continue
        return None

    def _work(self) -> None:
        try:
            for idx in self.batches:
                slot = self._next_free()
                if slot is None:
                    return
                if slot.event is not None:
                    slot.event.synchronize()  # its last copy to the device is done
                    slot.event = None
                n = len(idx)
                host = slot.host[:n]
                result = self.ds.read_batch(idx, host, slot.staging)
                if self.stream is not None:
                    self.ready.put(self._to_device(slot, result))
                    self.free.put(slot)
                else:
                    self.ready.put((slot, result, None))
        except BaseException as exc:  # handed to the consumer
            self.ready.put(exc)
            return
        self.ready.put(_END)

    def _to_device(self, slot: _Slot, result: Any) -> tuple[None, Any, Any]:
        assert self.stream is not None
        with torch.cuda.stream(self.stream):
            moved = (
                result.to(self.loader.device, non_blocking=True)
                if isinstance(result, torch.Tensor)
                else result
            )
            event = torch.cuda.Event()
            event.record(self.stream)
        slot.event = event
        return (None, moved, event)

    def __iter__(self) -> Iterator[Any]:
        while True:
            item = self._get()
            if self.held is not None:
                self.free.put(self.held)
                self.held = None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            slot, tensor, event = item
            if event is not None:
                current = torch.cuda.current_stream(self.loader.device)
                current.wait_event(event)
                if isinstance(tensor, torch.Tensor):
                    tensor.record_stream(current)
            self.held = slot
            yield tensor

    def _get(self) -> Any:
        while True:
            try:
                return self.ready.get(timeout=1.0)
            except queue.Empty:
                if not self.thread.is_alive() and self.ready.empty():
                    raise RuntimeError("fastchunk prefetch thread ended without a result") from None

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        if self.held is not None:
            self.free.put(self.held)
            self.held = None
