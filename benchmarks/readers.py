"""The readers compared by bench_read.py, behind one small interface.

Every reader answers the same four requests on the same store:
  take(idx, out)   rows idx (1-D, or 2-D for windows) along the date axis
  grid(idx, q, out) the first q gridpoints of rows idx (an orthogonal read)
  full(out)        the whole array
  element(i, j, k) one value, a[i, j, 0, k]
`out` is a preallocated, already touched buffer of the result's shape; the
fastchunk reader writes into it (take(out=...), the way a training loop uses
it), the others return new arrays as their APIs do (fastchunk-alloc does the
same with fastchunk, to show what allocation costs).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np

READERS = ["fastchunk", "fastchunk-alloc", "zarr", "zarrs", "tensorstore"]


class Reader:
    name = ""
    a: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.a.shape)

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def full(self, out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def element(self, i: int, j: int, k: int) -> Any:
        raise NotImplementedError


class FastchunkReader(Reader):
    name = "fastchunk"

    def __init__(self, path: Path, threads: int) -> None:
        import fastchunk

        fastchunk.set_num_threads(threads)
        self.a = fastchunk.open_array(str(path))
        self.axes = [np.arange(n, dtype=np.int64) for n in self.a.shape]

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        return self.a.take(idx, axis=0, out=out)

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        self.a.read_orthogonal([idx, self.axes[1], self.axes[2], self.axes[3][:q]], out)
        return out

    def full(self, out: np.ndarray) -> np.ndarray:
        self.a.read_orthogonal(self.axes, out)
        return out

    def element(self, i: int, j: int, k: int) -> Any:
        return self.a[i, j, 0, k]


class FastchunkAllocReader(FastchunkReader):
    name = "fastchunk-alloc"

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        return self.a.take(idx, axis=0)

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        return self.a[idx, :, :, :q]

    def full(self, out: np.ndarray) -> np.ndarray:
        return self.a[...]


def configure_zarr(threads: int) -> None:
    """zarr-python decodes in its event loop's thread pool, sized by
    threading.max_workers; the zarrs pipeline takes its thread count from the
    same key. Must run before zarr's loop starts."""
    import zarr

    zarr.config.set({"threading.max_workers": threads})


class ZarrReader(Reader):
    name = "zarr"

    def __init__(self, path: Path, threads: int) -> None:
        import zarr

        configure_zarr(threads)
        self.a = zarr.open_array(str(path), mode="r")

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        return self.a.oindex[idx.reshape(-1)].reshape(out.shape)

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        return self.a.oindex[idx, :, :, :q]

    def full(self, out: np.ndarray) -> np.ndarray:
        return self.a[...]

    def element(self, i: int, j: int, k: int) -> Any:
        return self.a[i, j, 0, k]


class ZarrsReader(ZarrReader):
    """zarr-python with the zarrs (Rust) codec pipeline, strict: never the
    python fallback. zarrs 0.2 cannot do integer-array selections (it falls
    back to the python pipeline), so gathers are concurrent slice reads, one
    per run of consecutive dates, on zarr's event loop: its best way."""

    name = "zarrs"

    def __init__(self, path: Path, threads: int) -> None:
        import zarr

        configure_zarr(threads)
        cfg = {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline", "codec_pipeline.strict": True}
        with zarr.config.set(cfg):
            self.a = zarr.open_array(str(path), mode="r")
        self.aa = self.a._async_array

    def _slices(self, idx: np.ndarray, tail: tuple[slice, ...]) -> list[np.ndarray]:
        from zarr.core.sync import sync

        flat = idx.reshape(-1)
        runs: list[tuple[int, int]] = []
        for d in flat.tolist():
            if runs and runs[-1][1] == d:
                runs[-1] = (runs[-1][0], d + 1)
            else:
                runs.append((d, d + 1))

        async def gather() -> list[Any]:
            return await asyncio.gather(*[self.aa.getitem((slice(a, b), *tail)) for a, b in runs])

        return sync(gather())

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        parts = self._slices(idx, ())
        return np.concatenate(parts).reshape(out.shape)

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        tail = (slice(None), slice(None), slice(0, q))
        return np.concatenate(self._slices(idx, tail))


class TensorstoreReader(Reader):
    name = "tensorstore"

    def __init__(self, path: Path, threads: int) -> None:
        import tensorstore as ts

        driver = "zarr3" if (path / "zarr.json").exists() else "zarr"
        context = {
            "data_copy_concurrency": {"limit": threads},
            "file_io_concurrency": {"limit": threads},
        }
        spec = {"driver": driver, "kvstore": {"driver": "file", "path": str(path)}}
        self.a = ts.open(spec, read=True, context=ts.Context(context)).result()

    def take(self, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
        return self.a.oindex[idx.reshape(-1)].read().result().reshape(out.shape)

    def grid(self, idx: np.ndarray, q: int, out: np.ndarray) -> np.ndarray:
        return self.a.oindex[idx, :, :, :q].read().result()

    def full(self, out: np.ndarray) -> np.ndarray:
        return self.a.read().result()

    def element(self, i: int, j: int, k: int) -> Any:
        return self.a[i, j, 0, k].read().result()[()]


_CLASSES: dict[str, type[Reader]] = {
    "fastchunk": FastchunkReader,
    "fastchunk-alloc": FastchunkAllocReader,
    "zarr": ZarrReader,
    "zarrs": ZarrsReader,
    "tensorstore": TensorstoreReader,
}


def open_reader(name: str, path: Path, threads: int) -> Reader:
    return _CLASSES[name](path, threads)
