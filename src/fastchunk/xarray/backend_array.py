"""The lazily indexed array behind each variable: xarray hands it one
indexer per load, and it reads the selection in one native call.

xarray's basic and outer indexers (integers, slices with any step, integer
arrays on any number of axes, in any order, with duplicates) are exactly the
orthogonal selections fastchunk's core plans: they go to it unchanged, slices
and evenly stepped arrays as runs. Vectorized (pointwise) indexers are split
by xarray into the outer selection that covers them, read the same way, and
a numpy gather of that."""

from __future__ import annotations

import asyncio
import operator
from typing import Any

import numpy as np
from xarray.backends.common import BackendArray
from xarray.core import indexing

from fastchunk._indexing import AxisIndex, as_run, normalize_array_index
from fastchunk.array import Array, _new_output


class FastchunkBackendArray(BackendArray):
    """One fastchunk.Array seen by xarray: `shape`, `dtype`, and reads."""

    __slots__ = ("_array", "dtype", "shape")

    def __init__(self, array: Array, dtype: np.dtype | None = None) -> None:
        self._array = array
        self.shape = tuple(array.shape)
        self.dtype = array.dtype if dtype is None else dtype

    def get_array(self) -> Array:
        """The fastchunk.Array read (xarray's tests walk `.array` attributes:
        not one, so that the wrapping stops here)."""
        return self._array

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        if isinstance(key, indexing.VectorizedIndexer):
            return indexing.explicit_indexing_adapter(
                key, self.shape, indexing.IndexingSupport.OUTER, self.read_outer
            )
        if not isinstance(key, (indexing.BasicIndexer, indexing.OuterIndexer)):
            raise TypeError(f"unexpected indexer {type(key).__name__}")
        return self.read_outer(key.tuple)

    async def async_getitem(self, key: indexing.ExplicitIndexer) -> Any:
        # The read releases the GIL: other loads proceed meanwhile.
        return await asyncio.to_thread(self.__getitem__, key)

    def read_outer(self, key: tuple[Any, ...]) -> np.ndarray:
        """An outer selection (per axis an integer, a slice or a 1-D integer
        array) in one native read; integer axes are dropped, as numpy does."""
        if len(key) != len(self.shape):
            raise IndexError(f"{len(key)} indices for an array of {len(self.shape)} dimensions")
        axes: list[AxisIndex] = []
        result_shape: list[int] = []
        for axis, (k, n) in enumerate(zip(key, self.shape, strict=True)):
            if isinstance(k, slice):
                run = range(*k.indices(n))
                axes.append(run)
                result_shape.append(len(run))
            elif isinstance(k, (int, np.integer)):
                i = operator.index(k)
                if not -n <= i < n:
                    raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
                i %= n
                axes.append(range(i, i + 1))
            else:
                positions = normalize_array_index(k, n, axis).reshape(-1)
                axes.append(as_run(positions))
                result_shape.append(len(positions))
        counts = [len(a) for a in axes]
        out = _new_output(counts, self._array.dtype)
        if 0 not in counts:
            self._array._read(axes, out)
        result = out.reshape(result_shape)
        if result.dtype != self.dtype:
            result = result.astype(self.dtype, copy=False)
        return result
