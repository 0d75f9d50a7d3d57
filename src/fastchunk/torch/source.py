"""What ArrayDataset and Loader read samples from, besides a zarr Array: a
sample source. fastchunk.anemoi's view is one; torch/ knows only this
protocol."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SampleSource(Protocol):
    """An array-like whose first axis holds the samples (dates, say).

    Besides shape, dtype, chunks and `read_orthogonal(indices, out)` (one
    int64 vector or range per axis, `out` C-contiguous of their lengths), a
    source says which samples are missing, how far apart its samples are (a
    window of offsets must not straddle a gap), and which statistics
    normalize its channels (axis 1)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype: ...

    @property
    def chunks(self) -> tuple[int, ...]: ...

    def read_orthogonal(self, indices: list[Any], out: np.ndarray) -> None: ...

    @property
    def missing_positions(self) -> np.ndarray:
        """Sorted int64 positions of the samples that must not be read."""
        ...

    def sample_positions(self, labels: Any) -> np.ndarray:
        """int64 positions of the samples named by `labels` (dates, for an
        anemoi view)."""
        ...

    def sample_steps(self) -> np.ndarray | None:
        """int64 per sample: its place in steps of the source's spacing (dates
        over frequency), or None when samples are evenly spaced."""
        ...

    def channel_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, stdev) per channel (axis 1), for normalize="statistics"."""
        ...

    def describe(self) -> str:
        """Where the samples come from, for reprs and errors."""
        ...
