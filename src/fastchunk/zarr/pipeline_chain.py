"""zarr-python codec objects -> the chain the C++ core decodes.

The one place that knows both zarr-python's codec classes and the core's
codec registry (fastchunk.zarr.codecs): zarr's codecs become (metadata name,
configuration) steps, as the array's metadata spells them, and the registry
decides which it runs. Transpose (an axis permutation: the copy's strides),
sharding and the variable-length codecs are handled by the pipeline itself."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastchunk.errors import FastchunkError
from fastchunk.zarr import codecs as _codecs

Step = tuple[str, dict[str, Any]]
_VLEN = {"vlen-utf8": "utf8", "vlen-bytes": "bytes"}


@dataclass(frozen=True)
class ShardChain:
    inner_shape: tuple[int, ...]
    inner: NativeChain
    index: _codecs.CodecChain  # decodes the index to little-endian uint64 pairs
    index_checksums: int  # crc32c codecs in the index chain (4 bytes each)
    index_at_start: bool


@dataclass(frozen=True)
class NativeChain:
    zarr_format: int
    # (metadata name, configuration) in encode order, without transpose,
    # sharding or a vlen codec; v3: the `bytes` serializer included.
    steps: tuple[Step, ...]
    endian: str | None  # v3 `bytes` codec byte order (None: one-byte items, or v2)
    stored_axes: tuple[int, ...] | None  # stored axis i holds logical axis [i] (v3 transpose)
    shard: ShardChain | None = None
    vlen: str | None = None  # "utf8" / "bytes": variable-length items
    _core: dict[tuple[str, bool], Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def v2(self) -> bool:
        return self.zarr_format == 2

    def core(self, stored: np.dtype, keep_order: bool) -> _codecs.CodecChain | str:
        """The core's chain for items stored as `stored`: decoding to native
        byte order, or (v2, keep_order) to the stored order as zarr-python's
        v2 output buffers hold them; or why the core cannot run it."""
        key = (stored.str, keep_order)
        if key not in self._core:
            self._core[key] = _core_chain(self, stored, keep_order)
        return self._core[key]


def native_chain(codecs: Any) -> NativeChain | str:
    """The chain for a zarr codec list, or the reason the pipeline cannot
    decode it. Whether the core implements each codec (for the array's dtype)
    is `NativeChain.core`'s to say."""
    from zarr.codecs import ShardingCodec, TransposeCodec, VLenBytesCodec, VLenUTF8Codec
    from zarr.codecs._v2 import V2Codec

    codecs = tuple(codecs)
    for c in codecs:
        if not type(c).__module__.startswith("zarr."):
            return f"codec {_name(c)} ({type(c).__name__}, not zarr-python's own class)"
    if len(codecs) == 1 and isinstance(codecs[0], V2Codec):
        v2 = codecs[0]
        steps: list[Step] = [_numcodec_step(f) for f in v2.filters or ()]
        vlen = _VLEN.get(steps[0][0]) if steps else None
        if vlen:
            steps = steps[1:]
        if v2.compressor is not None:
            steps.append(_numcodec_step(v2.compressor))
        return NativeChain(2, tuple(steps), None, None, vlen=vlen)

    perm: list[int] | None = None
    i = 0
    while i < len(codecs) and isinstance(codecs[i], TransposeCodec):
        order = list(codecs[i].order)
        base = perm if perm is not None else list(range(len(order)))
        perm = [base[o] for o in order]
        i += 1
    steps = []
    while i < len(codecs) and _kind(codecs[i]) == "array_to_array":
        if isinstance(codecs[i], TransposeCodec):
            return "transpose after another array-to-array codec"
        steps.append(_v3_step(codecs[i]))
        i += 1
    if i >= len(codecs):
        return "no array-to-bytes codec"
    ab = codecs[i]
    shard = None
    endian = None
    vlen = None
    if type(ab) in (VLenUTF8Codec, VLenBytesCodec):
        vlen = "utf8" if type(ab) is VLenUTF8Codec else "bytes"
        if steps:
            return "array-to-array codecs before a variable-length codec"
    elif isinstance(ab, ShardingCodec):
        shard = _shard_chain(ab)
        if isinstance(shard, str):
            return shard
    else:
        step = _v3_step(ab)
        endian = step[1].get("endian") if step[0] == _codecs.BYTE_ORDER else None
        steps.append(step)
    steps += [_v3_step(c) for c in codecs[i + 1 :]]
    if shard is not None and (len(codecs) > 1):
        return "codecs around sharding_indexed"
    if perm == list(range(len(perm or []))):
        perm = None
    return NativeChain(3, tuple(steps), endian, tuple(perm) if perm is not None else None,
                       shard, vlen)


def _shard_chain(codec: Any) -> ShardChain | str:
    inner = native_chain(codec.codecs)
    if isinstance(inner, str):
        return "sharding inner " + inner
    if inner.shard is not None:
        return "nested sharding"
    index = native_chain(codec.index_codecs)
    if isinstance(index, str) or index.stored_axes is not None or index.shard is not None:
        return "sharding index codecs"
    chain = _codecs.native_chain(3, "<u8", list(index.steps))
    if chain is None:
        return "sharding index codecs " + ",".join(n for n, _ in index.steps)
    return ShardChain(
        inner_shape=tuple(int(c) for c in codec.chunk_shape),
        inner=inner,
        index=chain,
        index_checksums=sum(1 for n, _ in index.steps if n == "crc32c"),
        index_at_start=codec.index_location.value == "start",
    )


def _core_chain(chain: NativeChain, stored: np.dtype, keep_order: bool
                ) -> _codecs.CodecChain | str:
    if chain.v2:
        endian = None
        if not keep_order and stored.itemsize > 1:
            endian = {"<": "little", ">": "big"}.get(stored.byteorder, sys.byteorder)
        dtype = stored.str
    else:
        endian = None
        dtype = stored.newbyteorder("=").str if stored.byteorder in "<>" else stored.str
    steps = list(chain.steps)
    try:
        core = _codecs.native_chain(chain.zarr_format, dtype, steps, endian)
    except FastchunkError as e:
        return f"codecs {[n for n, _ in steps]}: {e}"
    if core is not None:
        return core
    for name, config in steps:
        if _codecs.needs_numcodecs(chain.zarr_format, dtype, name, config):
            return f"codec {name}"
    return f"codecs {[n for n, _ in steps]} for dtype {dtype}"


def _kind(codec: Any) -> str:
    from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec

    if isinstance(codec, ArrayArrayCodec):
        return "array_to_array"
    if isinstance(codec, ArrayBytesCodec):
        return "array_to_bytes"
    return "bytes_to_bytes"


def _v3_step(codec: Any) -> Step:
    doc = codec.to_dict()
    if isinstance(doc, str):
        return doc, {}
    return str(doc["name"]), dict(doc.get("configuration") or {})


def _numcodec_step(codec: Any) -> Step:
    config = dict(codec.get_config())
    return str(config.get("id") or type(codec).__name__), config


def _name(codec: Any) -> str:
    try:
        return _v3_step(codec)[0]
    except Exception:  # a codec without a spec name: its class says what it is
        return type(codec).__name__


def stored_dtype(chain: NativeChain, dtype: Any) -> np.dtype:
    """The numpy dtype of the decoded bytes, as zarr-python views them."""
    if chain.v2 or chain.endian is None:
        return dtype.to_native_dtype()
    from dataclasses import replace

    from zarr.core.dtype.common import HasEndianness

    if isinstance(dtype, HasEndianness):
        return replace(dtype, endianness=chain.endian).to_native_dtype()  # type: ignore[call-arg]
    return dtype.to_native_dtype()


def chunk_strides(chain: NativeChain, shape: tuple[int, ...], order: str,
                  itemsize: int) -> list[int]:
    """Bytes per step along each logical axis of a decoded chunk."""
    nd = len(shape)
    if chain.v2:
        perm = list(range(nd))[::-1] if order == "F" else list(range(nd))
    else:
        perm = list(chain.stored_axes) if chain.stored_axes is not None else list(range(nd))
    strides = [0] * nd
    step = itemsize
    for axis in reversed(perm):
        strides[axis] = step
        step *= shape[axis]
    return strides
