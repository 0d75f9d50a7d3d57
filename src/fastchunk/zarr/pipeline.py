"""fastchunk's codec pipeline for zarr-python.

    zarr.config.set({"codec_pipeline.path": "fastchunk.zarr.CodecPipeline"})
    # or ZARR_CODEC_PIPELINE__PATH=fastchunk.zarr.CodecPipeline in the environment

Reads (`a[...]`, `a.oindex[...]`, `a.vindex[...]`, xarray) fetch the chunks
zarr's indexer names (local files are read by the core itself), then decode
them all in one call to the C++ core: native threads, the GIL released, each
chunk straight into its region of zarr's output buffer. Writes, and reads of
arrays whose codecs or dtype the core lacks, go through zarr-python's default
pipeline; each such fallback is counted (`fastchunk.zarr.pipeline_stats`) and
logged once per reason.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from zarr.abc.codec import CodecPipeline as _ZarrCodecPipeline
from zarr.core.codec_pipeline import BatchedCodecPipeline

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError, UnsupportedError
from fastchunk.zarr import pipeline_stats as _stats
from fastchunk.zarr.codecs import CodecChain
from fastchunk.zarr.pipeline_chain import NativeChain, chunk_strides, native_chain, stored_dtype
from fastchunk.zarr.pipeline_regions import region, split_shard

# Batches decoding fewer bytes run on the event loop's thread: a hop to a
# worker thread costs more than they take. Larger ones run in a worker thread,
# so that concurrent reads (dask tasks) overlap.
_INLINE_BYTES = 1 << 20
# Chunks (or shards) per group of a read from a store other than a local one.
_FETCH_GROUP = 256
_EMPTY = 2**64 - 1


class CodecPipeline(_ZarrCodecPipeline):
    """A zarr-python codec pipeline whose reads run in fastchunk's C++ core."""

    # zarr's registry names a pipeline by module + class name.
    __module__ = "fastchunk.zarr"

    def __init__(self, default: BatchedCodecPipeline) -> None:
        self._default = default
        self._chain: NativeChain | str | None = None

    # ------------------------------------------------------------ construction
    @classmethod
    def from_codecs(cls, codecs: Iterable[Any], *, batch_size: int | None = None) -> CodecPipeline:
        return cls(BatchedCodecPipeline.from_codecs(codecs, batch_size=batch_size))

    @classmethod
    def from_array_metadata_and_store(cls, array_metadata: Any, store: Any) -> CodecPipeline:
        from zarr.codecs._v2 import V2Codec
        from zarr.core.metadata import ArrayV2Metadata

        if isinstance(array_metadata, ArrayV2Metadata):
            codecs: list[Any] = [V2Codec(filters=array_metadata.filters,
                                         compressor=array_metadata.compressor)]
            dtype = array_metadata.dtype
        else:
            codecs = list(array_metadata.codecs)
            dtype = array_metadata.data_type
        pipeline = cls.from_codecs(codecs)
        why = pipeline._unsupported(dtype)
        if why is None:
            _stats.count("arrays_native")
        else:
            _stats.fallback("array", why)
        return pipeline

    def evolve_from_array_spec(self, array_spec: Any) -> CodecPipeline:
        return type(self)(self._default.evolve_from_array_spec(array_spec))

    def __iter__(self) -> Iterator[Any]:
        return iter(self._default)

    def __repr__(self) -> str:
        return f"fastchunk.zarr.CodecPipeline({list(self._default)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CodecPipeline) and self._default == other._default

    def __hash__(self) -> int:
        return hash(self._default)

    def __getstate__(self) -> dict[str, Any]:
        return {"default": self._default}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._default = state["default"]
        self._chain = None

    @property
    def batch_size(self) -> int:
        return self._default.batch_size

    @property
    def supports_partial_decode(self) -> bool:
        return self._default.supports_partial_decode

    @property
    def supports_partial_encode(self) -> bool:
        return self._default.supports_partial_encode

    # ------------------------------------------------------------ delegated
    def validate(self, *, shape: tuple[int, ...], dtype: Any, chunk_grid: Any) -> None:
        self._default.validate(shape=shape, dtype=dtype, chunk_grid=chunk_grid)

    def compute_encoded_size(self, byte_length: int, array_spec: Any) -> int:
        return self._default.compute_encoded_size(byte_length, array_spec)

    async def decode(self, chunk_bytes_and_specs: Iterable[tuple[Any, Any]]) -> Iterable[Any]:
        return await self._default.decode(chunk_bytes_and_specs)

    async def encode(self, chunk_arrays_and_specs: Iterable[tuple[Any, Any]]) -> Iterable[Any]:
        return await self._default.encode(chunk_arrays_and_specs)

    async def write(self, batch_info: Iterable[Any], value: Any,
                    drop_axes: tuple[int, ...] = ()) -> None:
        await self._default.write(batch_info, value, drop_axes)

    # ------------------------------------------------------------ reading
    def native(self) -> NativeChain | str:
        """The core's chain for these codecs, or why there is none."""
        if self._chain is None:
            self._chain = native_chain(self._default)
        return self._chain

    def _unsupported(self, dtype: Any) -> str | None:
        chain = self.native()
        if isinstance(chain, str):
            return chain
        try:
            np_dtype = dtype.to_native_dtype()
        except Exception as e:  # a dtype without a numpy equivalent
            return f"dtype {dtype}: {e}"
        variable = np_dtype.kind in "OT" or np_dtype.itemsize == 0 or np_dtype.hasobject
        if chain.vlen is not None:
            return None if np_dtype.kind in "OT" else f"dtype {np_dtype} with a vlen codec"
        if variable:
            return f"dtype {np_dtype} (variable length)"
        inner = chain.shard.inner if chain.shard is not None else chain
        core = inner.core(stored_dtype(inner, dtype), inner.v2)
        return core if isinstance(core, str) else None

    async def read(self, batch_info: Iterable[Any], out: Any,
                   drop_axes: tuple[int, ...] = ()) -> None:
        batch = list(batch_info)
        if not batch:
            return
        # Chunks fetched through a store's API are held in memory until
        # decoded: a large read goes in groups (their regions are disjoint).
        step = len(batch) if _local_root(batch) is not None else _FETCH_GROUP
        native = True
        for start in range(0, len(batch), step):
            group = batch[start : start + step]
            try:
                why = await self._read_native(group, out, tuple(drop_axes))
            except UnsupportedError as e:
                # A stream the core meets only at decode time (a zstd frame
                # without its content size inside a chain): zarr-python
                # rewrites every region of the group.
                why = str(e)
            if why is not None:
                native = False
                _stats.fallback("read", why)
                await self._default.read(group, out, drop_axes)
        if native:
            _stats.count("reads_native")

    async def _read_native(self, batch: list[Any], out: Any,
                           drop_axes: tuple[int, ...]) -> str | None:
        """Reads the batch through the core, or says why it cannot (before
        writing anything)."""
        spec = batch[0][1]
        why = self._unsupported(spec.dtype)
        if why is not None:
            return why
        chain = self.native()
        assert not isinstance(chain, str)
        dst = out.as_ndarray_like()
        if not isinstance(dst, np.ndarray):
            return f"output buffer {type(dst).__name__}"
        if not dst.flags.writeable:
            return "read-only output buffer"
        if chain.vlen is not None:
            if chain.shard is not None:
                return "variable-length items in shards"
            await self._read_vlen(batch, dst, drop_axes, chain, spec)
            return None
        for item in batch[1:]:
            other = item[1]
            if other is not spec and (other.shape != spec.shape or other.dtype != spec.dtype
                                      or other.order != spec.order
                                      or not _same_fill(other, spec)):
                return "chunks of different specs in one batch"
        if chain.shard is not None:
            return await self._read_shards(batch, dst, drop_axes, chain, spec)
        plan = _decode_plan(chain, spec, dst.dtype)
        if isinstance(plan, str):
            return plan
        core, work, fill = plan
        stored = work
        cast = work != dst.dtype
        shape = tuple(spec.shape)
        regions = [None if cast else region(sel, osel, drop_axes, shape, dst.shape)
                   for _, _, sel, osel, _ in batch]
        sources = await _sources(batch)
        layout = _Layout(_name(batch), core, shape,
                         chunk_strides(chain, shape, spec.order, stored.itemsize),
                         stored.itemsize, fill)
        items: list[Any] = []
        loose = []
        for (getter, _, sel, osel, _), reg, src in zip(batch, regions, sources, strict=True):
            key = _key(getter)
            if reg is not None:
                items.append((key, src, dst, reg[0], reg[1]))
            else:
                tmp = np.empty(shape, dtype=work)
                items.append((key, src, tmp, _whole(shape), None))
                loose.append((tmp, sel, osel))
        await layout.decode(items)
        for tmp, sel, osel in loose:
            part = tmp[sel]
            if drop_axes:
                part = part.squeeze(axis=drop_axes)
            dst[osel] = part
        _stats.count("chunks_native", len(items))
        return None

    async def _read_vlen(self, batch: list[Any], dst: np.ndarray, drop_axes: tuple[int, ...],
                         chain: NativeChain, spec: Any) -> None:
        """Variable-length strings / bytes: the bytes codecs through numcodecs,
        the framing parsed and checked by the core, the items placed by numpy
        (as zarr-python does)."""
        from fastchunk.zarr.fallback import _numcodec
        from fastchunk.zarr.strings import items_of, v3_steps

        assert chain.vlen is not None
        if chain.v2:  # numcodecs configurations (with their ids), outermost first
            steps = [_numcodec(config).decode for _, config in reversed(chain.steps)]
        else:
            steps = v3_steps(list(chain.steps))
        shape = tuple(spec.shape)
        n = math.prod(shape)
        sources = await _sources(batch)
        for (getter, item_spec, sel, osel, _), src in zip(batch, sources, strict=True):
            if isinstance(src, str):
                src = _read_file(src)
            if src is None:
                dst[osel] = _fill_value(item_spec)
                continue
            try:
                buf: Any = src
                for step in steps:
                    buf = step(buf)
                items = items_of(buf, n, chain.vlen)
            except ChunkDecodeError as e:
                raise ChunkDecodeError(f"{_name(batch)}: chunk '{_key(getter)}': {e}") from None
            except Exception as e:  # numcodecs raises many types for corrupt input
                raise ChunkDecodeError(f"{_name(batch)}: chunk '{_key(getter)}': "
                                       f"numcodecs failed to decode: {e}") from None
            chunk = np.empty(n, dtype=object)
            chunk[:] = items
            if chain.v2:
                chunk = chunk.reshape(shape, order=item_spec.order)
            elif chain.stored_axes is not None:
                chunk = chunk.reshape([shape[a] for a in chain.stored_axes]).transpose(
                    np.argsort(chain.stored_axes))
            else:
                chunk = chunk.reshape(shape)
            part = chunk[sel]
            if drop_axes:
                part = part.squeeze(axis=drop_axes)
            dst[osel] = part
        _stats.count("chunks_vlen", len(batch))

    async def _read_shards(self, batch: list[Any], dst: np.ndarray, drop_axes: tuple[int, ...],
                           chain: NativeChain, spec: Any) -> str | None:
        sc = chain.shard
        assert sc is not None
        shard_shape = tuple(spec.shape)
        inner = sc.inner_shape
        if len(inner) != len(shard_shape) or any(
                s % i for s, i in zip(shard_shape, inner, strict=True)):
            return "shard shape is not a multiple of the inner chunk shape"
        plan = _decode_plan(sc.inner, spec, dst.dtype)
        if isinstance(plan, str):
            return plan
        core, stored, fill = plan
        if stored != dst.dtype:
            return f"output dtype {dst.dtype} for a sharded array of {stored}"
        regions = [region(sel, osel, drop_axes, shard_shape, dst.shape)
                   for _, _, sel, osel, _ in batch]
        if any(r is None for r in regions):
            return "selection form in a sharded array"
        per = tuple(s // i for s, i in zip(shard_shape, inner, strict=True))
        indexes = await _shard_indexes(batch, sc, per)
        local = _local_root(batch)
        items: list[Any] = []
        ranges: list[tuple[int, Any, int, int, Any]] = []
        for (getter, _, _, _, _), reg, (index, path, version) in zip(batch, regions, indexes,
                                                                     strict=True):
            key = _key(getter)
            assert reg is not None
            for coords, sub in split_shard(reg, inner):
                src: Any = None
                if index is not None:
                    offset, nbytes = (int(v) for v in index[int(np.ravel_multi_index(coords, per))])
                    if nbytes != _EMPTY:
                        if local is not None:
                            src = (path, offset, nbytes, version)
                        else:
                            ranges.append((len(items), getter, offset, nbytes, spec.prototype))
                items.append([f"{key}[{','.join(map(str, coords))}]", src, dst, sub[0], sub[1]])
        if ranges:
            from zarr.abc.store import RangeByteRequest
            from zarr.core.common import concurrent_map
            from zarr.core.config import config

            async def get(getter: Any, offset: int, nbytes: int, proto: Any) -> Any:
                return await getter.get(prototype=proto,
                                        byte_range=RangeByteRequest(offset, offset + nbytes))

            got = await concurrent_map([r[1:] for r in ranges], get,
                                       config.get("async.concurrency"))
            for (i, _, _, nbytes, _), buf in zip(ranges, got, strict=True):
                data = None if buf is None else buf.as_numpy_array()
                if data is None or data.shape[0] != nbytes:
                    raise ChunkDecodeError(f"{_name(batch)}: chunk '{items[i][0]}': "
                                           f"shard holds fewer bytes than its index says")
                items[i][1] = data
        layout = _Layout(_name(batch), core, inner,
                         chunk_strides(sc.inner, inner, spec.order, stored.itemsize),
                         stored.itemsize, fill)
        await layout.decode([tuple(i) for i in items])
        _stats.count("chunks_native", len(items))
        return None


def _decode_plan(chain: NativeChain, spec: Any, out: np.dtype
                 ) -> tuple[CodecChain, np.dtype, bytes] | str:
    """The core's chain, the dtype it writes and the fill value's bytes in
    that dtype: zarr v2 output buffers hold items in their stored byte order,
    everything else in native order. Another output dtype (an `out=` buffer)
    is cast into place by numpy afterwards."""
    stored = stored_dtype(chain, spec.dtype)
    keep = chain.v2 and stored == out
    work = stored if keep or stored.byteorder not in "<>" else stored.newbyteorder("=")
    if work != out and (stored.fields is not None or out.fields is not None):
        return f"output dtype {out} for stored {stored}"
    core = chain.core(stored, keep)
    if isinstance(core, str):
        return core
    fill = np.empty((), dtype=work)
    try:
        fill[()] = _fill_value(spec)
    except (TypeError, ValueError, OverflowError) as e:
        return f"fill value {spec.fill_value!r}: {e}"
    return core, work, fill.tobytes()


class _Layout:
    """What every chunk of a batch shares; decodes items with the core."""

    def __init__(self, name: str, codecs: CodecChain, shape: tuple[int, ...],
                 strides: list[int], itemsize: int, fill: bytes) -> None:
        self.args = (name, codecs, shape, strides, itemsize, fill)

    async def decode(self, items: list[Any]) -> None:
        # The one call into the core's batch decoder.
        _, _, shape, _, itemsize, _ = self.args
        if len(items) * math.prod(shape) * itemsize <= _INLINE_BYTES:
            _core.decode_batch(*self.args, items)
        else:
            await asyncio.to_thread(_core.decode_batch, *self.args, items)


def _whole(shape: tuple[int, ...]) -> list[Any]:
    return [(range(n), range(n), d) for d, n in enumerate(shape)]


def _fill_value(spec: Any) -> Any:
    fill = spec.fill_value
    return spec.dtype.default_scalar() if fill is None else fill


def _same_fill(a: Any, b: Any) -> bool:
    fa, fb = a.fill_value, b.fill_value
    if fa is fb:
        return True
    try:
        return bool(np.array_equal(np.asarray(fa), np.asarray(fb), equal_nan=True))
    except TypeError:
        return bool(np.array_equal(np.asarray(fa), np.asarray(fb)))


def _key(getter: Any) -> str:
    path = getattr(getter, "path", None)
    return path if isinstance(path, str) else repr(getter)


def _name(batch: list[Any]) -> str:
    store = getattr(batch[0][0], "store", None)
    return str(store) if store is not None else "zarr shard"


def _local_root(batch: list[Any]) -> str | None:
    """The root of the zarr LocalStore every chunk of the batch lives in
    (the core then reads the files itself), or None."""
    from zarr.storage import LocalStore, StorePath

    store = getattr(batch[0][0], "store", None)
    if type(store) is not LocalStore:
        return None
    for item in batch:
        getter = item[0]
        if type(getter) is not StorePath or getter.store is not store:
            return None
    return str(store.root)


async def _sources(batch: list[Any]) -> list[Any]:
    """Per chunk: a local file path, the encoded bytes, or None (not stored)."""
    root = _local_root(batch)
    if root is not None:
        await batch[0][0].store._ensure_open()
        return [os.path.join(root, item[0].path) for item in batch]
    from zarr.core.common import concurrent_map
    from zarr.core.config import config

    async def get(getter: Any, proto: Any) -> Any:
        return await getter.get(prototype=proto)

    got = await concurrent_map([(item[0], item[1].prototype) for item in batch], get,
                               config.get("async.concurrency"))
    return [None if b is None else b.as_numpy_array() for b in got]


async def _shard_indexes(batch: list[Any], sc: Any, per: tuple[int, ...]
                         ) -> list[tuple[np.ndarray | None, str | None, str]]:
    """Per shard: its decoded index ((n_inner, 2) uint64 offset/nbytes), or
    None when the shard is not stored; its local path, if any, and the
    version of the file the index was read from (the core reads the inner
    chunks of that version only)."""
    n_inner = math.prod(per)
    root = _local_root(batch)
    out: list[tuple[np.ndarray | None, str | None, str]] = []
    if root is not None:
        await batch[0][0].store._ensure_open()
        layout = {"chunks_per_shard": per, "index_at_start": sc.index_at_start,
                  "index_codecs": sc.index}
        for item in batch:
            path = os.path.join(root, item[0].path)
            try:
                index, version = _core.read_shard_index_file(path, layout)
            except ChunkDecodeError as e:
                raise ChunkDecodeError(f"shard '{path}': {e}") from None
            out.append((index, path, version))
        return out
    nbytes = 16 * n_inner + 4 * sc.index_checksums
    from zarr.abc.store import RangeByteRequest, SuffixByteRequest
    from zarr.core.common import concurrent_map
    from zarr.core.config import config

    rng = RangeByteRequest(0, nbytes) if sc.index_at_start else SuffixByteRequest(nbytes)

    async def get(getter: Any, proto: Any) -> Any:
        return await getter.get(prototype=proto, byte_range=rng)

    got = await concurrent_map([(item[0], item[1].prototype) for item in batch], get,
                               config.get("async.concurrency"))
    for item, buf in zip(batch, got, strict=True):
        if buf is None:
            out.append((None, None, ""))
            continue
        raw = buf.as_numpy_array()
        if raw.shape[0] != nbytes:
            raise ChunkDecodeError(f"{_name(batch)}: shard '{_key(item[0])}': holds "
                                   f"{raw.shape[0]} bytes, shorter than its {nbytes}-byte index")
        out.append((_decode_index(raw, sc, n_inner, _key(item[0])), None, ""))
    return out


def _read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _decode_index(raw: Any, sc: Any, n_inner: int, where: str) -> np.ndarray:
    try:
        decoded = _core.decode_chunk(raw, sc.index, 16 * n_inner)
    except ChunkDecodeError as e:
        raise ChunkDecodeError(f"shard '{where}': index: {e}") from None
    return np.frombuffer(decoded, dtype=np.uint64).reshape(n_inner, 2)
