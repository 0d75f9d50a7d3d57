"""Variable-length strings and bytes: zarr v3 `string` / `bytes` data types
(codecs `vlen-utf8` / `vlen-bytes`, what zarr-python 3 writes for str data)
and zarr v2 `|O` arrays whose first filter is `vlen-utf8` / `vlen-bytes`.

Strings read into numpy's StringDType (numpy >= 2; object arrays before),
bytes into object arrays. The compressors decode through numcodecs; the
framing is parsed and validated by the core (`_core.parse_vlen`). Indexing is
the numeric arrays' own: the core reads int64 item numbers through the same
plan (selections, fill value of missing chunks, F order), then the items are
looked up by number (fastchunk/_item_reads.py)."""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import ChunkDecodeError, MetadataError, UnsupportedError

V3_TYPES = {"string": "utf8", "variable_length_utf8": "utf8",
            "bytes": "bytes", "variable_length_bytes": "bytes"}
_CODECS = {"vlen-utf8": "utf8", "vlen-bytes": "bytes"}


def v3_kind(data_type: Any) -> str | None:
    """"utf8" / "bytes" for a variable-length v3 data type, else None."""
    name = data_type.get("name") if isinstance(data_type, dict) else data_type
    return V3_TYPES.get(name) if isinstance(name, str) else None


def v2_kind(dtype: Any, filters: Any) -> str | None:
    """"utf8" / "bytes" for a v2 `|O` array whose first filter is vlen-*."""
    if dtype not in ("|O", "O", "object") or not isinstance(filters, list) or not filters:
        return None
    first = filters[0]
    return _CODECS.get(first.get("id")) if isinstance(first, dict) else None


def numpy_dtype(kind: str) -> np.dtype:
    if kind == "utf8" and hasattr(np.dtypes, "StringDType"):
        return np.dtype(np.dtypes.StringDType())
    return np.dtype(object)


def fill_value(value: Any, kind: str, dtype: np.dtype) -> np.ndarray:
    """0-d array of the fill value ("" / b"" when null). A number as the fill
    value of a string array (zarr 2 wrote 0 for object arrays) is its text,
    as zarr-python reads it: 0 reads "0"; for bytes, 0 is b""."""
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None or (numeric and kind != "utf8" and value == 0):
        item: Any = "" if kind == "utf8" else b""
    elif numeric and kind == "utf8":
        item = str(value)
    elif kind == "utf8":
        if not isinstance(value, str):
            raise MetadataError(f"invalid fill_value {value!r} for a string array")
        item = value
    elif isinstance(value, str):
        try:
            item = base64.standard_b64decode(value)
        except ValueError as e:
            raise MetadataError(f"invalid base64 fill_value {value!r}: {e}") from None
    elif isinstance(value, list) and all(type(v) is int and 0 <= v < 256 for v in value):
        item = bytes(value)
    else:
        raise MetadataError(f"invalid fill_value {value!r} for a bytes array")
    out = np.empty((), dtype=dtype)
    out[()] = item
    return out


def items_of(raw: Any, n: int, kind: str) -> list[Any]:
    """The n items of a decoded (decompressed) vlen buffer."""
    buf = bytes(raw) if not isinstance(raw, bytes) else raw
    starts, lengths = _core.parse_vlen(buf, n)
    if kind == "bytes":
        return [buf[s : s + k] for s, k in zip(starts.tolist(), lengths.tolist(), strict=True)]
    out = []
    for i, (s, k) in enumerate(zip(starts.tolist(), lengths.tolist(), strict=True)):
        try:
            out.append(buf[s : s + k].decode("utf-8"))
        except UnicodeDecodeError as e:
            raise ChunkDecodeError(f"item {i} is not valid UTF-8: {e}") from None
    return out


def chunk_decoder(bytes_steps: list[Callable[[Any], Any]], kind: str, chunks: tuple[int, ...],
                  stored_axes: list[int] | None) -> Callable[[bytes], np.ndarray]:
    """raw stored chunk -> object array of its items, logical shape, C order.
    `bytes_steps` undo the bytes-to-bytes codecs, outermost first;
    `stored_axes`: stored axis i holds logical axis [i] (F order, transpose)."""
    n = math.prod(chunks)
    stored_shape = tuple(chunks[p] for p in stored_axes) if stored_axes else chunks

    def decode(raw: bytes) -> np.ndarray:
        buf: Any = raw
        try:
            for step in bytes_steps:
                buf = step(buf)
        except ChunkDecodeError:
            raise
        except Exception as e:  # numcodecs raises many types for corrupt input
            raise ChunkDecodeError(f"numcodecs failed to decode: {e}") from None
        arr = np.empty(n, dtype=object)
        arr[:] = items_of(buf, n, kind)
        arr = arr.reshape(stored_shape)
        if stored_axes:
            arr = arr.transpose(np.argsort(stored_axes))
        return np.ascontiguousarray(arr)

    return decode


def _strip_crc32c(raw: Any) -> bytes:
    data = bytes(raw)
    if len(data) < 4:
        raise ChunkDecodeError("crc32c: chunk shorter than its checksum")
    if _core.crc32c(data[:-4]) != int.from_bytes(data[-4:], "little"):
        raise ChunkDecodeError("crc32c checksum mismatch")
    return data[:-4]


def v2_steps(compressor: Any, filters: list[Any]) -> list[Callable[[Any], Any]]:
    from fastchunk.zarr.fallback import _numcodec

    steps = [_numcodec(compressor).decode] if compressor else []
    for f in reversed(filters[1:]):
        steps.append(_numcodec(f).decode)
    return steps


def v3_steps(codecs: list[tuple[str, dict[str, Any]]]) -> list[Callable[[Any], Any]]:
    from fastchunk.zarr.fallback import _numcodec, _v3_numcodec

    steps: list[Callable[[Any], Any]] = []
    for name, config in reversed(codecs):
        if name == "crc32c":
            steps.append(_strip_crc32c)
        elif name == "zstd":
            steps.append(_numcodec({"id": "zstd", "level": config.get("level", 0)}).decode)
        elif name == "gzip":
            steps.append(_numcodec({"id": "gzip", "level": config.get("level", 5)}).decode)
        elif name == "blosc":
            steps.append(_numcodec({"id": "blosc"}).decode)
        elif name.startswith("numcodecs."):
            steps.append(_v3_numcodec(name, config).decode)
        else:
            raise UnsupportedError(f"codec {name!r} after a variable-length codec")
    return steps
