"""ArrayDataset: samples (or windows of samples) along one axis of an array."""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import fastchunk
from fastchunk._indexing import AxisIndex, as_run, normalize_array_index
from fastchunk._units import parse_timedelta
from fastchunk.array import Array
from fastchunk.errors import MetadataError
from fastchunk.torch.source import SampleSource
from fastchunk.torch.transform import (
    BatchLayout,
    Transform,
    _BoundTransform,
    _numpy_to_torch_dtype,
    _numpy_view,
)


def _parse_missing(values: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must be integer positions along the sample axis, got {arr[:3]}")
    arr = arr.astype(np.int64).reshape(-1)
    arr = np.where(arr < 0, arr + n, arr)
    return np.unique(arr[(arr >= 0) & (arr < n)])


def _positions_from_attrs(value: Any, attrs: dict[str, Any], n: int, what: str) -> np.ndarray:
    """Missing rows given as positions, or as dates with attrs 'start_date'
    and 'frequency' (anemoi datasets)."""
    try:
        return _parse_missing(value, n, what)
    except ValueError:
        if "start_date" not in attrs or "frequency" not in attrs:
            raise
    dates = np.asarray(list(value), dtype="datetime64[s]")
    step = np.timedelta64(int(parse_timedelta(attrs["frequency"]).total_seconds()), "s")
    start = np.datetime64(str(attrs["start_date"]), "s")
    offsets = (dates - start).astype(np.int64)
    if np.any(offsets % step.astype(np.int64)):
        raise ValueError(f"{what} holds dates off the {attrs['frequency']} grid")
    return _parse_missing(offsets // step.astype(np.int64), n, what)


def _enclosing_group_attrs(array: Array) -> dict[str, Any] | None:
    """The attrs of the group holding `array`, however the array was named:
    its store's root group when it has a path there, else the group one level
    up from the store's location ("ds.zarr/data" opened as a store of its own)."""
    store = array.store
    try:
        if array.path:
            return fastchunk.open_group(store).attrs
        if store.local_root is not None:
            parent = os.path.dirname(os.path.abspath(store.local_root).rstrip(os.sep))
            return fastchunk.open_group(parent).attrs
        state = store.__getstate__() if hasattr(store, "__getstate__") else None
        location = state.get("location") if isinstance(state, dict) else None
        if not isinstance(location, str) or "/" not in location.rstrip("/").split("://", 1)[-1]:
            return None
        parent = location.rstrip("/").rsplit("/", 1)[0]
        return fastchunk.open_group(parent, storage_options=state.get("storage_options")).attrs
    except (fastchunk.FastchunkError, OSError, TypeError, ValueError):
        return None


def _missing_from_attrs(array: Array, n: int) -> np.ndarray:
    """Missing rows named by the array's attrs, else by its enclosing group's
    (an anemoi dataset's "missing_dates")."""
    sources = [array.attrs]
    group = _enclosing_group_attrs(array)
    if group is not None:
        sources.append(group)
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


def _all_integers(values: Any) -> bool:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    return arr.size == 0 or arr.dtype.kind in "iu"


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

    `array` may be a sample source (`fastchunk.torch.source.SampleSource`,
    such as an anemoi view from `fastchunk.anemoi.open_dataset`): samples are
    its first axis, `offsets` count steps of its spacing (a window whose
    samples are not evenly spaced, across a skipped date, is left out), and
    its missing samples are skipped. `missing=` (positions, or labels such as
    dates for a source) adds to the dataset's own missing rows, whichever way
    the array was named ("ds.zarr/data" or path="data").

    `__getitems__` reads a whole batch in one native call, and so does
    `ds[list_of_indices]`: a DataLoader with `batch_size=None` and a batch
    sampler (see `dataloader()`) gets each batch as one tensor, never
    re-stacked. Datasets pickle by store location (endpoint and credentials
    included) and reopen in worker processes (fork, spawn, forkserver).
    """

    def __init__(
        self,
        array: Array | SampleSource | str | os.PathLike[str],
        axis: int = 0,
        offsets: Sequence[int] | None = None,
        select: dict[int, Any] | Sequence[Any] | None = None,
        transform: Transform | Callable[[torch.Tensor], Any] | None = None,
        missing: Sequence[int] | None = None,
        path: str | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.source: SampleSource | None = (
            array if not isinstance(array, Array) and isinstance(array, SampleSource) else None
        )
        if self.source is not None:
            if path is not None or axis not in (0, -len(array.shape)):
                raise ValueError("a sample source is read along its first axis: no path= or axis=")
        elif not isinstance(array, Array):
            array = _open_array(array, path, storage_options)
        self._array: Any = array
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

        if self.source is not None:
            own = self.source.missing_positions
        else:
            own = _missing_from_attrs(array, n)
        if missing is None:
            extra = np.zeros(0, np.int64)
        elif self.source is not None and not _all_integers(missing):
            # labels (dates, for an anemoi view): the source's positions of them
            extra = self.source.sample_positions(missing)
        else:
            extra = _parse_missing(missing, n, "missing")
        self.missing = np.union1d(own, extra).astype(np.int64)
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
        # What reads take: slices and whole axes as runs (no per-point tables).
        self._read_axes: dict[int, AxisIndex] = {a: as_run(i) for a, i in self.axis_indices.items()}

    def _valid_anchors(self, n: int) -> np.ndarray:
        offsets = self.offsets if self.offsets is not None else np.zeros(1, dtype=np.int64)
        lo, hi = -int(offsets.min()), n - int(offsets.max())
        anchors = np.arange(max(lo, 0), max(hi, 0), dtype=np.int64)
        if self.missing.size and anchors.size:
            bad = np.zeros(anchors.shape, dtype=bool)
            for o in np.unique(offsets):
                bad |= np.isin(anchors + o, self.missing)
            anchors = anchors[~bad]
        steps = self.source.sample_steps() if self.source is not None else None
        if steps is not None and anchors.size and np.any(offsets != 0):
            # Windows count steps of the source's spacing: drop those whose
            # samples are not that many steps apart (a skipped missing date).
            ok = np.ones(anchors.shape, dtype=bool)
            for o in np.unique(offsets):
                ok &= steps[anchors + o] - steps[anchors] == int(o)
            anchors = anchors[ok]
        return anchors

    @property
    def window(self) -> int:
        return 1 if self.offsets is None else int(self.offsets.size)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """The shape of one sample as served: `sample_shape`, with the channel
        dim moved last by a Transform with layout="anemoi"."""
        if self._fused is None:
            return self.sample_shape
        return self._fused.output_shape(self.sample_shape)

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

    @property
    def layout(self) -> BatchLayout:
        """Where the array's axes land in a batch (n, *sample_shape)."""
        return BatchLayout(
            self.array_shape, self.axis, dict(self.axis_indices), frozenset(self.dropped),
            self.offsets is not None,
        )  # fmt: skip

    def batch_dim_of_axis(self, axis: int) -> int:
        """The dim of a batch (n, *sample_shape) that holds array axis `axis`."""
        return self.layout.batch_dim(axis)

    @property
    def chunk_ids(self) -> np.ndarray:
        """For each sample, the chunk along the sample axis holding its anchor."""
        return self.anchors // self.chunk_len

    @property
    def array(self) -> Array:
        return self._array

    @property
    def _reads_channels_last(self) -> bool:
        """The read writes the channels last itself (layout="anemoi" over
        float32 samples): the chunks are transposed into place as they
        decode, then normalized in place (or cast out of a staging batch)."""
        f = self._fused
        return (
            f is not None and f.channels_last and f.channel_axis is not None
            and self.dtype == np.float32 and self.axis == 0
        )  # fmt: skip

    @property
    def needs_staging(self) -> bool:
        if self._reads_channels_last:
            return self.out_dtype != torch.float32
        return self._fused is not None and (
            self.out_dtype != torch.float32 or self.dtype != np.float32 or self._fused.channels_last
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
            self._fused: _BoundTransform | None = _BoundTransform(transform, self.layout)
            self._callable = None
        else:
            self._fused = None
            self._callable = transform
        self.transform = transform

    def __len__(self) -> int:
        return int(self.anchors.size)

    def __repr__(self) -> str:
        if self.source is not None:
            where = self.source.describe()
        else:
            where = f"{self._array.store.name}/{self._array.path}"
        return (
            f"<fastchunk.torch.ArrayDataset {where} samples={len(self)} "
            f"sample_shape={self.output_shape}>"
        )

    # ---- reading
    def _positions(self, items: Any) -> np.ndarray:
        pos = np.asarray(items, dtype=np.int64).reshape(-1)
        n = len(self)
        if pos.size and (pos.min() < -n or pos.max() >= n):
            raise IndexError(f"sample index out of range for a dataset of {n} samples")
        return np.where(pos < 0, pos + n, pos)

    def _indices(self, pos: np.ndarray) -> list[Any]:
        rows = self.anchors[pos]
        if self.offsets is not None:
            rows = (rows[:, None] + self.offsets[None, :]).reshape(-1)
        return [rows if a == self.axis else self._read_axes[a] for a in range(self.array_ndim)]

    @property
    def fetches_ahead(self) -> bool:
        """Whether reads come from a remote store whose requests can be
        named ahead (fetch_requests)."""
        reader = self.source if self.source is not None else self._array
        if not hasattr(reader, "fetch_requests"):
            return False
        store = getattr(reader, "store", None)
        return store is None or getattr(store, "local_root", None) is None

    def fetch_requests(self, items: Any) -> list[tuple[Any, list[Any]]]:
        """[(store, requests)] a read of samples `items` will make of its
        remote stores, for fetching them ahead (fastchunk.store.fetch_ahead):
        the array's Array.fetch_requests, or a sample source's own
        `fetch_requests(indices)` when it has one; [] otherwise."""
        reader = self.source if self.source is not None else self._array
        named = getattr(reader, "fetch_requests", None)
        if named is None:
            return []
        return named(self._indices(self._positions(items)))

    def read_into(self, items: Any, out: np.ndarray, channels_last: int | None = None) -> None:
        """Reads samples `items` (positions in this dataset) in the array's
        dtype into `out`, C-contiguous with shape (len(items), *sample_shape),
        or with array axis `channels_last` (sample axis 0 only) moved last."""
        pos = self._positions(items)
        indices = self._indices(pos)
        counts = [len(i) for i in indices]
        if channels_last is not None:
            c = channels_last
            moved = out.reshape(counts[:c] + counts[c + 1 :] + [counts[c]])
            self.array.read_orthogonal(indices, np.moveaxis(moved, -1, c))
            return
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
        shape = (pos.size, *self.output_shape)
        if out is None:
            out = torch.empty(shape, dtype=self.out_dtype)
            if torch.utils.data.get_worker_info() is not None:
                # A DataLoader worker hands its batch over through shared
                # memory: put it there now rather than copy it there later.
                out.share_memory_()
        elif tuple(out.shape) != shape or out.dtype != self.out_dtype:
            raise ValueError(f"out must be {self.out_dtype} of shape {shape}")
        if self._fused is None:
            self.read_into(pos, _numpy_view(out))
        elif self._reads_channels_last:
            channel = self._fused.channel_axis
            shape = (pos.size, *self.output_shape)
            if self.out_dtype == torch.float32:
                target = _numpy_view(out)
            elif staging is None:
                target = np.empty(shape, dtype=np.float32)
            else:
                target = staging.reshape(-1)[: math.prod(shape)].reshape(shape)
            self.read_into(pos, target, channels_last=channel)
            if not self._fused.only_moves_channels:
                self._fused.apply_last(target, out)
        elif self.needs_staging:
            raw_shape = (pos.size, *self.sample_shape)
            if staging is None:
                staging = np.empty(raw_shape, dtype=self.dtype)
            else:
                staging = staging[: pos.size]
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

    def __getitem__(self, item: Any) -> Any:
        """One sample, or with a list / array of positions the whole batch
        as one tensor (what a DataLoader with batch_size=None asks for)."""
        if isinstance(item, (list, tuple, np.ndarray, torch.Tensor)):
            return self.read_batch(np.asarray(item, dtype=np.int64).reshape(-1))
        return self.read_batch([item])[0]

    def dataloader(
        self,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        **dataloader_kwargs: Any,
    ) -> torch.utils.data.DataLoader:
        """A torch DataLoader serving whole batches: a ShardedBatchSampler
        (ranks from torch.distributed) as its sampler and batch_size=None, so
        each batch is read by one native call straight into its tensor (in
        shared memory inside workers) and never collated again. Call
        `loader.sampler.set_epoch(e)` each epoch."""
        from fastchunk.torch.sampler import ShardedBatchSampler

        sampler = ShardedBatchSampler(
            len(self), batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last
        )
        return torch.utils.data.DataLoader(
            self, sampler=sampler, batch_size=None, **dataloader_kwargs
        )


def _open_array(
    store: str | os.PathLike[str], path: str | None, storage_options: dict[str, Any] | None
) -> Array:
    """The array to read samples from; a group is an error that says how to
    name the array in it, or to read the group as a dataset (anemoi's)."""
    node = fastchunk.open(store, path, storage_options)
    if isinstance(node, Array):
        return node
    arrays = [name for name, member in node.arrays() if isinstance(member, Array)]
    named = 'path="data"' if "data" in arrays else (
        f"path={arrays[0]!r}" if arrays else "path=..."
    )
    raise MetadataError(
        f"{node!r} is a group, not an array: name the array to read with {named}"
        + (f" (its arrays: {', '.join(arrays)})" if arrays else "")
        + "; an anemoi dataset is read with its dates, variables and statistics through "
        "fastchunk.anemoi.open_dataset(store), which the Loader takes as it is"
    )
