"""Chunks whose codecs the C++ core does not implement decode through numcodecs:
slower, still correct, with one warning naming the slow codec."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError, FastchunkError, UnsupportedError
from fastchunk.zarr.codecs import (
    BYTE_ORDER,
    CodecChain,
    core_configuration,
    native_codec,
    needs_numcodecs,
)

ChunkDecoder = Callable[[bytes], np.ndarray]

_warned: set[str] = set()

# Kinds of the numcodecs codecs the core does not implement, where a zarr v3
# chain needs them (every other numcodecs codec is bytes-to-bytes), and the
# packages the array-to-bytes ones need.
_ARRAY_TO_BYTES_PACKAGES = {"zfpy": "zfpy", "pcodec": "pcodec"}
_ARRAY_TO_ARRAY = {"fixedscaleoffset", "quantize", "bitround", "astype", "packbits"}
# Filters early writers named without the "numcodecs." prefix.
_BARE_FILTERS = {"fixedscaleoffset", "quantize", "bitround", "astype"}


def numcodecs_kind(codec_id: str, bare: bool = False) -> str | None:
    """The zarr v3 kind of numcodecs codec `codec_id` that the core does not
    implement (array_to_array, array_to_bytes or bytes_to_bytes). With `bare`
    (a name written without the "numcodecs." prefix, as early writers named
    filters), only filters are recognised; None otherwise."""
    if bare:
        return "array_to_array" if codec_id in _BARE_FILTERS else None
    if codec_id in _ARRAY_TO_ARRAY:
        return "array_to_array"
    if codec_id in _ARRAY_TO_BYTES_PACKAGES:
        return "array_to_bytes"
    return "bytes_to_bytes"


class SlowCodecWarning(UserWarning):
    """A codec decodes through numcodecs in Python instead of the C++ core."""


def warn_slow(names: list[str]) -> None:
    new = [n for n in names if n not in _warned]
    if not new:
        return
    _warned.update(new)
    warnings.warn(
        f"codec(s) {', '.join(new)} decode through numcodecs in Python, without the "
        "multithreaded C++ core: reads of this array are slower",
        SlowCodecWarning,
        stacklevel=4,
    )


def _numcodec(config: dict[str, Any]) -> Any:
    import numcodecs

    try:
        return numcodecs.get_codec(dict(config))
    except (ValueError, KeyError, TypeError, ImportError) as e:
        package = _ARRAY_TO_BYTES_PACKAGES.get(str(config.get("id")))
        hint = f" (install the {package!r} package)" if package else ""
        raise UnsupportedError(f"codec {config.get('id')!r} is not available{hint}: {e}") from None


def as_chunk_bytes(decode: ChunkDecoder) -> ChunkDecoder:
    """`decode`, giving the chunk's bytes (native order, C layout) as a uint8
    array: what the core copies from. Any dtype, datetimes included (a
    memoryview of a datetime64 array cannot be cast to bytes)."""

    def decode_bytes(raw: bytes) -> np.ndarray:
        return np.ascontiguousarray(decode(raw)).reshape(-1).view(np.uint8)

    return decode_bytes


def _as_chunk(buf: Any, dt: np.dtype, chunks: tuple[int, ...], order: str) -> np.ndarray:
    arr = np.asarray(buf) if isinstance(buf, np.ndarray) else np.frombuffer(buf, dtype=np.uint8)
    if arr.dtype != dt:
        arr = arr.view(dt) if arr.dtype.itemsize * arr.size % dt.itemsize == 0 else arr
    arr = arr.reshape(-1)
    n = int(np.prod(chunks))
    if arr.size != n:
        raise ChunkDecodeError(f"decoded chunk holds {arr.size} items, expected {n}")
    return arr.reshape(chunks, order=order)


def v2_decoder(
    compressor: dict[str, Any] | None,
    filters: list[dict[str, Any]],
    dt: np.dtype,
    chunks: tuple[int, ...],
    order: str,
) -> tuple[ChunkDecoder, list[str]]:
    comp = _numcodec(compressor) if compressor else None
    flts = [_numcodec(f) for f in filters]
    native = dt.newbyteorder("=") if dt.byteorder in "<>" else dt

    def decode(raw: bytes) -> np.ndarray:
        try:
            buf: Any = comp.decode(raw) if comp is not None else raw
            for f in reversed(flts):
                buf = f.decode(buf)
        except ChunkDecodeError:
            raise
        except Exception as e:  # numcodecs raises many types for corrupt input
            raise ChunkDecodeError(f"numcodecs failed to decode: {e}") from None
        chunk = _as_chunk(buf, dt, chunks, order)
        return np.ascontiguousarray(chunk, dtype=native)

    codecs = filters + ([compressor] if compressor else [])
    slow = [c["id"] for c in codecs if needs_numcodecs(2, dt.str, c["id"], c)]
    return decode, slow or [c["id"] for c in codecs]


def _v3_numcodec(name: str, config: dict[str, Any]) -> Any:
    codec_id = name[len("numcodecs.") :] if name.startswith("numcodecs.") else name
    return _numcodec({"id": codec_id, **config})


def _v3_bytes_step(
    name: str, config: dict[str, Any], dtype: np.dtype, limit: int
) -> Callable[[Any], Any]:
    """The decoder of one zarr v3 bytes-to-bytes codec: the core's when it
    implements the codec and the stream tells its decoded size (at most
    `limit`), numcodecs' otherwise (with the configuration numcodecs takes,
    from the core)."""
    native = native_codec(3, name)
    if native is None or needs_numcodecs(3, dtype.str, name, config):
        return _v3_numcodec(name, config).decode
    chain = CodecChain(3, dtype.str, ((native.name, core_configuration(config)),))
    codec = None
    if native.numcodecs:
        try:
            cfg = _core.codec_configuration(native.name, config, dtype.str, 2)
        except FastchunkError:
            cfg = config
        codec = _numcodec({"id": native.name, **cfg})

    def decode(buf: Any) -> Any:
        size = _core.outer_decoded_size(buf, chain)
        if size is None:
            if codec is None:
                raise ChunkDecodeError(f"{name}: the stream does not tell its decoded size")
            return codec.decode(buf)
        if size > limit:
            raise ChunkDecodeError(f"{name}: stream claims {size} decoded bytes, more than "
                                   "the chunk can hold")
        return _core.decode_chunk(buf, chain, size)

    return decode


def v3_decoder(chain: Any, dt: np.dtype, chunks: tuple[int, ...]) -> tuple[ChunkDecoder, list[str]]:
    bytes_steps: list[Callable[[bytes], bytes]] = []
    slow: list[str] = []
    limit = 2 * math.prod(chunks) * dt.itemsize + 65536  # compressed streams do not grow
    for name, config in chain.bytes_codecs:
        if needs_numcodecs(3, dt.str, name, config):
            slow.append(name)
        bytes_steps.append(_v3_bytes_step(name, config, dt, limit))
    serializer = None
    if chain.serializer[0] != BYTE_ORDER:
        serializer = _v3_numcodec(*chain.serializer)
        slow.append(chain.serializer[0])
    array_steps = []
    stage_dtype = dt
    for name, config in chain.array_codecs:
        codec = _v3_numcodec(name, config)
        if needs_numcodecs(3, dt.str, name, config):
            slow.append(name)
        array_steps.append((codec, stage_dtype))
        for attr in ("astype", "encode_dtype"):
            if getattr(codec, attr, None) is not None:
                stage_dtype = np.dtype(getattr(codec, attr))
                break
    endian = chain.endian
    if endian and stage_dtype.itemsize > 1:
        stage_dtype = stage_dtype.newbyteorder(">" if endian == "big" else "<")
    perm = chain.stored_axes
    stored_shape = tuple(chunks[p] for p in perm) if perm else chunks

    def decode(raw: bytes) -> np.ndarray:
        try:
            buf: Any = raw
            for step in reversed(bytes_steps):
                buf = step(buf)
            if serializer is not None:
                arr = np.asarray(serializer.decode(bytes(buf))).astype(stage_dtype, copy=False)
                arr = arr.reshape(-1)
            else:
                arr = np.frombuffer(bytes(buf), dtype=stage_dtype)
            if arr.size != int(np.prod(stored_shape)):
                raise ChunkDecodeError(
                    f"decoded chunk holds {arr.size} items, expected {int(np.prod(stored_shape))}"
                )
            arr = arr.reshape(stored_shape)
            for codec, out_dtype in reversed(array_steps):
                arr = np.asarray(codec.decode(arr)).reshape(stored_shape).astype(out_dtype,
                                                                                  copy=False)
        except ChunkDecodeError:
            raise
        except Exception as e:
            raise ChunkDecodeError(f"numcodecs failed to decode: {e}") from None
        if perm:
            arr = arr.transpose(np.argsort(perm))
        return np.ascontiguousarray(arr, dtype=dt.newbyteorder("="))

    names = [n for n, _ in [*chain.array_codecs, chain.serializer, *chain.bytes_codecs]]
    return decode, slow or names


def shard_decoder(
    inner: ChunkDecoder, layout: Any, chunks: tuple[int, ...], fill: np.ndarray
) -> ChunkDecoder:
    """Decodes a whole shard whose inner chunks need numcodecs: reads the
    index, decodes every stored inner chunk with `inner`, fills the rest."""
    per = tuple(layout.chunks_per_shard)
    spec = layout.core_spec()

    def decode(raw: bytes) -> np.ndarray:
        # The index is decoded and checked by the core, as for native shards.
        index = _core.decode_shard_index(raw, spec).reshape(per + (2,))
        out = np.empty(tuple(p * c for p, c in zip(per, chunks, strict=True)), dtype=fill.dtype)
        out[...] = fill
        for pos in np.ndindex(*per):
            offset, nbytes = (int(v) for v in index[pos])
            if nbytes == 2**64 - 1:  # not stored (zarrita 0.2.7 leaves any offset)
                continue
            region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(pos, chunks, strict=True))
            out[region] = inner(raw[offset : offset + nbytes])
        return out

    return decode
