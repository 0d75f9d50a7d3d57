"""zarr-python codec objects -> the chain the C++ core decodes.

The one place that knows both zarr-python's codec classes and the core's
codec names: when the core's codec layer changes, only `native_chain` and
`_core_codec` change."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

from fastchunk import _core

# numcodecs ids (v2 compressors, v3 "numcodecs.*" codecs) the core decodes,
# with the same framing as numcodecs.
_NUMCODECS_NATIVE = {"blosc", "zstd", "gzip", "zlib", "lz4"}
_VLEN = {"vlen-utf8": "utf8", "vlen-bytes": "bytes"}


@dataclass(frozen=True)
class ShardChain:
    inner_shape: tuple[int, ...]
    inner: NativeChain
    index_codecs: tuple[str, ...]
    index_swap: int  # 8 when the index is stored big-endian
    index_at_start: bool


@dataclass(frozen=True)
class NativeChain:
    codecs: tuple[str, ...]  # the core's bytes-to-bytes codecs, encode order
    endian: str | None  # v3 `bytes` codec byte order (None: one-byte items, or v2)
    v2: bool  # zarr v2: items in the dtype's byte order, laid out in the chunk spec's order
    stored_axes: tuple[int, ...] | None  # v3 transpose: stored axis i holds logical axis [i]
    shard: ShardChain | None = None
    vlen: str | None = None  # "utf8" / "bytes": variable-length items (vlen-utf8 / vlen-bytes)


def native_chain(codecs: Any) -> NativeChain | str:
    """The core's chain for a zarr codec list, or the reason it has none."""
    from zarr.codecs import BytesCodec, ShardingCodec, TransposeCodec, VLenBytesCodec, VLenUTF8Codec
    from zarr.codecs._v2 import V2Codec

    codecs = tuple(codecs)
    if len(codecs) == 1 and isinstance(codecs[0], V2Codec):
        v2 = codecs[0]
        # Filters that are compressors are bytes-to-bytes steps before the
        # compressor; the core needs every step but the first to announce its
        # decoded size (zlib does not).
        steps = [_numcodec_id(f) for f in v2.filters or ()]
        vlen = _VLEN.get(steps[0]) if steps else None
        if vlen:
            steps = steps[1:]
        if v2.compressor is not None:
            steps.append(_numcodec_id(v2.compressor))
        if vlen:
            if any(c not in _NUMCODECS_NATIVE for c in steps):
                return "v2 filters " + ",".join(_numcodec_id(f) for f in v2.filters or ())
            return NativeChain(tuple(steps), None, True, None, vlen=vlen)
        if any(c not in _NUMCODECS_NATIVE for c in steps):
            return "v2 filters " + ",".join(steps) if v2.filters else f"v2 compressor {steps[0]}"
        if "zlib" in steps[1:]:
            return "v2 zlib after another codec"
        return NativeChain(tuple(steps), None, True, None)

    perm: list[int] | None = None
    i = 0
    while i < len(codecs) and isinstance(codecs[i], TransposeCodec):
        order = list(codecs[i].order)
        base = perm if perm is not None else list(range(len(order)))
        perm = [base[o] for o in order]
        i += 1
    if i >= len(codecs):
        return "no array-to-bytes codec"
    ab = codecs[i]
    shard = None
    endian = None
    vlen = None
    if type(ab) in (VLenUTF8Codec, VLenBytesCodec):
        vlen = "utf8" if type(ab) is VLenUTF8Codec else "bytes"
    elif isinstance(ab, BytesCodec):
        endian = ab.endian.value if ab.endian is not None else None
    elif isinstance(ab, ShardingCodec):
        shard = _shard_chain(ab)
        if isinstance(shard, str):
            return shard
    else:
        return f"codec {_name(ab)}"
    names = []
    for c in codecs[i + 1 :]:
        name = _core_codec(c)
        if name is None:
            return f"codec {_name(c)}"
        names.append(name)
    if shard is not None and (names or perm is not None):
        return "codecs around sharding_indexed"
    if perm == list(range(len(perm or []))):
        perm = None
    return NativeChain(tuple(names), endian, False,
                       tuple(perm) if perm is not None else None, shard, vlen)


def _shard_chain(codec: Any) -> ShardChain | str:
    inner = native_chain(codec.codecs)
    if isinstance(inner, str):
        return "sharding inner " + inner
    if inner.shard is not None:
        return "nested sharding"
    index = native_chain(codec.index_codecs)
    if isinstance(index, str) or index.stored_axes is not None or index.shard is not None:
        return "sharding index codecs"
    if any(c != "crc32c" for c in index.codecs):
        return "sharding index codecs " + ",".join(index.codecs)
    swap = 8 if (index.endian or "little") != sys.byteorder else 0
    return ShardChain(
        inner_shape=tuple(int(c) for c in codec.chunk_shape),
        inner=inner,
        index_codecs=index.codecs,
        index_swap=swap,
        index_at_start=codec.index_location.value == "start",
    )


def _core_codec(codec: Any) -> str | None:
    from zarr.codecs import BloscCodec, Crc32cCodec, GzipCodec, ZstdCodec

    for cls, name in ((BloscCodec, "blosc"), (ZstdCodec, "zstd"), (GzipCodec, "gzip"),
                      (Crc32cCodec, "crc32c")):
        if type(codec) is cls:
            return name
    codec_name = getattr(codec, "codec_name", "")
    if isinstance(codec_name, str) and codec_name.startswith("numcodecs."):
        cid = codec_name[len("numcodecs.") :]
        return cid if cid in _NUMCODECS_NATIVE and cid in _core.CODEC_IDS else None
    return None


def _numcodec_id(codec: Any) -> str:
    return str(getattr(codec, "codec_id", None) or type(codec).__name__)


def _name(codec: Any) -> str:
    try:
        return str(codec.to_dict()["name"])
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


def swap_unit(stored: np.dtype, out: np.dtype) -> int | None:
    """Bytes per word to swap to turn `stored` items into `out` items; None
    when that is not a byte swap."""
    if stored == out:
        return 0
    if stored.newbyteorder() != out or stored.fields is not None:
        return None
    if stored.kind == "c":
        return stored.itemsize // 2
    if stored.kind == "U":
        return 4
    return stored.itemsize


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
