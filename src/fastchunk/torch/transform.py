"""Preprocessing fused into the copy of each batch (normalize, NaN
replacement, cast), run in C++."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fastchunk import _core

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


LAYOUTS = ("native", "anemoi")


class Transform:
    """Preprocessing fused into the copy of each decoded batch, in C++:
    `normalize=(mean, std)` per channel along array axis `axis` (values for
    every index of that axis, or for the selected ones, or scalars), NaN
    replaced by `nan` (in output units, after normalization), and the cast to
    `dtype` (float32, float16 or bfloat16). `layout="anemoi"` writes the
    channel axis (`axis`, default the first one after the sample axis: an
    anemoi dataset's variables) last, in the same pass: anemoi-training's
    (dates, ensembles, gridpoints, variables)."""

    def __init__(
        self,
        normalize: tuple[Any, Any] | None = None,
        axis: int | None = None,
        nan: float | None = None,
        dtype: Any = None,
        layout: str = "native",
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.layout = layout
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
            f"axis={self.axis}, nan={self.nan}, dtype={self.dtype}, layout={self.layout!r})"
        )


@dataclass(frozen=True)
class BatchLayout:
    """Where the axes of an array land in the batches of a dataset over it:
    the sample axis becomes the batch dim (and a window dim after it when
    `windowed`), the other axes keep their selected indices, and those in
    `dropped` (selected by one integer) disappear."""

    array_shape: tuple[int, ...]
    axis: int
    axis_indices: dict[int, np.ndarray]
    dropped: frozenset[int]
    windowed: bool

    @property
    def array_ndim(self) -> int:
        return len(self.array_shape)

    def batch_dim(self, axis: int) -> int:
        """The dim of a batch (n, *sample_shape) that holds array axis `axis`."""
        dim = 1
        for a in range(axis):
            if a == self.axis:
                dim += self.windowed
            elif a not in self.dropped:
                dim += 1
        return dim


class _BoundTransform:
    """A Transform resolved against a dataset's batch layout."""

    def __init__(self, transform: Transform, layout: BatchLayout) -> None:
        self.out_dtype = transform.dtype or torch.float32
        self.out_code = _core.TRANSFORM_OUT_TYPES[_OUT_TYPES[self.out_dtype]]
        self.nan = transform.nan
        self.mean = self.std = None
        self.channel_dim: int | None = None  # dim of the batch holding the channels
        self.channel_axis: int | None = None  # ... and the array axis it comes from
        self.channels_last = transform.layout == "anemoi"
        if transform.mean is None and not self.channels_last:
            return
        mean, std = transform.mean, transform.std
        if mean is not None and mean.size == 1 and not self.channels_last:
            self.mean, self.std = mean, std
            return
        axis = transform.axis
        if axis is None:
            kept = [
                a for a in range(layout.array_ndim) if a != layout.axis and a not in layout.dropped
            ]
            if not kept:
                raise ValueError("per-channel normalize needs an axis besides the sample axis")
            axis = kept[0]
        if not -layout.array_ndim <= axis < layout.array_ndim:
            raise ValueError(f"normalize axis {axis} out of range for {layout.array_ndim} dims")
        axis %= layout.array_ndim
        if axis == layout.axis or axis in layout.dropped:
            raise ValueError(f"normalize axis {axis} is the sample axis or selected away")
        chosen = layout.axis_indices[axis]
        full = layout.array_shape[axis]
        self.channel_dim = layout.batch_dim(axis)
        self.channel_axis = axis
        if mean is None or std is None:
            return
        if mean.size == 1:
            mean, std = np.repeat(mean, chosen.size), np.repeat(std, chosen.size)
        elif mean.size == full:
            mean, std = mean[chosen], std[chosen]
        elif mean.size != chosen.size:
            raise ValueError(
                f"normalize has {mean.size} values; axis {axis} has {full} ({chosen.size} selected)"
            )
        self.mean = np.ascontiguousarray(mean)
        self.std = np.ascontiguousarray(std)

    @property
    def only_moves_channels(self) -> bool:
        """Channels last and nothing else: the read itself writes them there."""
        return (
            self.channels_last and self.channel_axis is not None and self.mean is None
            and self.nan is None and self.out_dtype == torch.float32
        )  # fmt: skip

    def apply_last(self, src: np.ndarray, dst: torch.Tensor) -> None:
        """The normalization, NaN replacement and cast of a float32 batch read
        channels last already (`src` may be `dst`'s own memory)."""
        channels = int(src.shape[-1]) if src.ndim else 1
        _core.transform_batch(
            src, _numpy_view(dst).reshape(-1).view(np.uint8), src.size // max(channels, 1),
            channels, 1, self.mean, self.std, self.nan, self.out_code, False,
        )  # fmt: skip

    def output_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """A sample's shape after this transform (channels last or not)."""
        if not self.channels_last or self.channel_dim is None:
            return sample_shape
        d = self.channel_dim - 1  # the batch dim is not in sample_shape
        return sample_shape[:d] + sample_shape[d + 1 :] + (sample_shape[d],)

    def apply(self, src: np.ndarray, dst: torch.Tensor) -> None:
        """src: float32 batch; dst: a contiguous CPU tensor of the same shape,
        or of the channels-last shape with layout="anemoi"."""
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
            self.channels_last,
        )
