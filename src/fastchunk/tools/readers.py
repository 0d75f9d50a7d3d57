"""The readers fastchunk is compared with, behind one small interface: the
one set of adapters `fastchunk bench` and the scripts in benchmarks/ use.

Every reader answers the same requests on the same array:
  take(idx, axis, out)   rows idx (any shape of integers) along `axis`
  oindex(selection, out) an orthogonal selection: per axis a slice or a 1-D
                         integer array
  full(out)              the whole array
  element(index)         one value
`out` is a preallocated buffer of the result's shape (or None). The fastchunk
reader writes into it, the way a training loop does; the others return new
arrays, as their APIs do (fastchunk-alloc does that with fastchunk, to show
what allocation costs).

zarrs runs strictly, never through zarr-python's own pipeline: zarrs 0.2
cannot do integer-array selections (it would fall back), so its gathers are
concurrent slice reads, one per run of consecutive indices, on zarr's event
loop (its best way), then concatenated.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

READERS = ("fastchunk", "fastchunk-alloc", "zarr-python", "zarrs", "tensorstore")
_ALIASES = {"zarr": "zarr-python"}

Selection = tuple[Any, ...]


def _along(ndim: int, axis: int, idx: Any) -> Selection:
    sel: list[Any] = [slice(None)] * ndim
    sel[axis] = idx
    return tuple(sel)


def _taken_shape(shape: Sequence[int], axis: int, idx: np.ndarray) -> tuple[int, ...]:
    return (*shape[:axis], *idx.shape, *shape[axis + 1 :])


class Reader:
    name = ""
    a: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def take(self, idx: np.ndarray, axis: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        flat = np.asarray(idx).reshape(-1)
        got = self.oindex(_along(self.ndim, axis, flat), None)
        return np.asarray(got).reshape(_taken_shape(self.shape, axis, np.asarray(idx)))

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        raise NotImplementedError

    def element(self, index: Selection) -> Any:
        raise NotImplementedError


class FastchunkReader(Reader):
    name = "fastchunk"

    def __init__(
        self, store: str, path: str | None, threads: int | None, options: dict | None
    ) -> None:
        import fastchunk

        if threads:
            fastchunk.set_num_threads(threads)
        self.a = fastchunk.open_array(store, path, options)
        self._all: list[Any] = [range(n) for n in self.a.shape]

    def _indices(self, selection: Selection) -> list[Any]:
        out: list[Any] = []
        for s, n in zip(selection, self.a.shape, strict=True):
            if isinstance(s, slice):
                out.append(range(*s.indices(n)))
            else:
                out.append(np.asarray(s, dtype=np.int64).reshape(-1))
        return out

    def take(self, idx: np.ndarray, axis: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        return self.a.take(idx, axis=axis, out=out)

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        indices = self._indices(selection)
        if out is None:
            out = np.empty([len(i) for i in indices], dtype=self.a.dtype)
        self.a.read_orthogonal(indices, out)
        return out

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            return self.a[...]
        self.a.read_orthogonal(self._all, out)
        return out

    def element(self, index: Selection) -> Any:
        return self.a[index]


class FastchunkAllocReader(FastchunkReader):
    """fastchunk with fresh outputs: take(idx), a[...]."""

    name = "fastchunk-alloc"

    def take(self, idx: np.ndarray, axis: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        return self.a.take(idx, axis=axis)

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        return super().oindex(selection, None)

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        return self.a[...]


def configure_zarr(threads: int | None) -> None:
    """zarr-python decodes in its event loop's thread pool, sized by
    threading.max_workers; the zarrs pipeline takes its thread count from the
    same key. Must run before zarr's loop starts."""
    import zarr

    if threads:
        zarr.config.set({"threading.max_workers": threads})


class ZarrReader(Reader):
    name = "zarr-python"
    _config: dict[str, Any] = {}

    def __init__(
        self, store: str, path: str | None, threads: int | None, options: dict | None
    ) -> None:
        import zarr

        configure_zarr(threads)
        with zarr.config.set(self._config):
            self.a = zarr.open_array(store, path=path or None, mode="r", storage_options=options)

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.a.oindex[selection])

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.a[...])

    def element(self, index: Selection) -> Any:
        return self.a[index]


class ZarrsReader(ZarrReader):
    """zarr-python with the zarrs (Rust) codec pipeline, strict: never the
    python fallback (see the module notes)."""

    name = "zarrs"
    _config = {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline", "codec_pipeline.strict": True}

    def __init__(
        self, store: str, path: str | None, threads: int | None, options: dict | None
    ) -> None:
        import importlib.util

        if importlib.util.find_spec("zarrs") is None:
            raise RuntimeError("zarrs is not installed")
        super().__init__(store, path, threads, options)

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        from zarr.core.sync import sync

        arrays = [d for d, s in enumerate(selection) if not isinstance(s, slice)]
        if not arrays:
            return np.asarray(self.a[selection])
        if len(arrays) > 1:
            raise ValueError("the zarrs reader takes integer arrays on one axis only")
        axis = arrays[0]
        runs: list[tuple[int, int]] = []
        for i in np.asarray(selection[axis]).reshape(-1).tolist():
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
        aa = self.a._async_array

        async def gather() -> list[Any]:
            parts = [aa.getitem(_replace(selection, axis, slice(a, b))) for a, b in runs]
            return await asyncio.gather(*parts)

        return np.concatenate(sync(gather()), axis=axis)


def _replace(selection: Selection, axis: int, value: Any) -> Selection:
    return (*selection[:axis], value, *selection[axis + 1 :])


class TensorstoreReader(Reader):
    name = "tensorstore"

    def __init__(
        self, store: str, path: str | None, threads: int | None, options: dict | None
    ) -> None:
        import tensorstore as ts

        if "://" in store:
            raise RuntimeError("the tensorstore reader reads local stores only")
        where = os.path.join(os.path.abspath(store), path or "")
        driver = "zarr3" if os.path.exists(os.path.join(where, "zarr.json")) else "zarr"
        context = None
        if threads:
            context = ts.Context(
                {"data_copy_concurrency": {"limit": threads},
                 "file_io_concurrency": {"limit": threads}}
            )  # fmt: skip
        spec = {"driver": driver, "kvstore": {"driver": "file", "path": where}}
        self.a = ts.open(spec, read=True, context=context).result()

    def oindex(self, selection: Selection, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.a.oindex[selection].read().result())

    def full(self, out: np.ndarray | None = None) -> np.ndarray:
        return np.asarray(self.a.read().result())

    def element(self, index: Selection) -> Any:
        return self.a[index].read().result()[()]


_CLASSES: dict[str, type[Reader]] = {
    "fastchunk": FastchunkReader,
    "fastchunk-alloc": FastchunkAllocReader,
    "zarr-python": ZarrReader,
    "zarrs": ZarrsReader,
    "tensorstore": TensorstoreReader,
}


def open_reader(
    name: str,
    store: str | os.PathLike[str],
    path: str | None = None,
    *,
    threads: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Reader:
    """The reader `name` (see READERS; "zarr" is zarr-python) on the array at
    `path` in `store`, decoding with `threads` threads where it can be told."""
    cls = _CLASSES.get(_ALIASES.get(name, name))
    if cls is None:
        raise ValueError(f"unknown reader {name!r}; choose from {', '.join(READERS)}")
    return cls(os.fspath(store), path, threads, storage_options)
