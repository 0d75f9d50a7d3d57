"""Chunks whose codecs the C++ core does not implement decode through numcodecs:
slower, still correct, with one warning naming the slow codec."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError, UnsupportedError

ChunkDecoder = Callable[[bytes], np.ndarray]

_warned: set[str] = set()


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
    except (ValueError, KeyError, TypeError) as e:
        raise UnsupportedError(f"codec {config.get('id')!r} is not available: {e}") from None


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

    slow = [c["id"] for c in filters] + (
        [compressor["id"]] if compressor and compressor["id"] not in _core.CODEC_IDS else []
    )
    return decode, slow or [c["id"] for c in filters]


def _v3_numcodec(name: str, config: dict[str, Any]) -> Any:
    codec_id = name[len("numcodecs.") :] if name.startswith("numcodecs.") else name
    return _numcodec({"id": codec_id, **config})


def _strip_crc32c(raw: bytes) -> bytes:
    if len(raw) < 4:
        raise ChunkDecodeError("crc32c: chunk shorter than its checksum")
    body = memoryview(raw)[:-4]
    if _core.crc32c(body) != int.from_bytes(raw[-4:], "little"):
        raise ChunkDecodeError("crc32c checksum mismatch")
    return bytes(body)


def v3_decoder(chain: Any, dt: np.dtype, chunks: tuple[int, ...]) -> tuple[ChunkDecoder, list[str]]:
    bytes_steps: list[Callable[[bytes], bytes]] = []
    slow: list[str] = []
    for name, config in chain.bytes_codecs:
        if name == "crc32c":
            bytes_steps.append(_strip_crc32c)
            continue
        if name in ("zstd", "gzip", "blosc"):
            cfg = dict(config)
            if name == "blosc":
                cfg = {"cname": cfg.get("cname", "lz4"), "clevel": cfg.get("clevel", 5)}
            elif name == "zstd":
                cfg = {"level": cfg.get("level", 0)}
            codec = _numcodec({"id": name, **cfg})
        else:
            codec = _v3_numcodec(name, config)
            slow.append(name)
        bytes_steps.append(codec.decode)
    array_steps = []
    stage_dtype = dt
    for name, config in chain.array_codecs:
        codec = _v3_numcodec(name, config)
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

    return decode, slow


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
