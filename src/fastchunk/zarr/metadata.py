"""Parsing zarr v2 and v3 array metadata into what the reader needs."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.errors import MetadataError, UnsupportedError
from fastchunk.zarr import codecs as _codecs
from fastchunk.zarr import dtypes as _dtypes
from fastchunk.zarr import strings as _strings

_MAX_DIM = 2**62


@dataclass
class ShardLayout:
    shard_shape: tuple[int, ...]
    chunks_per_shard: tuple[int, ...]
    index_chain: _codecs.CodecChain  # decodes the index into native uint64 pairs
    index_at_start: bool
    index_nbytes: int

    def core_spec(self) -> dict[str, Any]:
        """The shard layout as the core takes it (NativeArray's `shard`,
        _core.decode_shard_index's `layout`)."""
        return {
            "chunks_per_shard": self.chunks_per_shard,
            "index_at_start": self.index_at_start,
            "index_codecs": self.index_chain,
        }


@dataclass
class ArrayMeta:
    zarr_format: int
    path: str  # key prefix of the array inside the store: "" or "a/b/"
    shape: tuple[int, ...]
    chunks: tuple[int, ...]  # decode unit (inner chunk when sharded)
    dtype: np.dtype  # native byte order
    stored_dtype: np.dtype
    fill_value: np.ndarray  # 0-d, native dtype
    attrs: dict[str, Any]
    codec_names: list[str]  # human-readable, for `info` and errors
    key_prefix: str
    separator: str
    zero_dim_key: str
    nested_fallback: bool
    # The chain the core decodes (byte order included), or None when a codec
    # needs the numcodecs fallback.
    native_codecs: _codecs.CodecChain | None
    stored_axes: list[int] | None
    shard: ShardLayout | None = None
    fallback: Any = None  # callable(bytes) -> the chunk's bytes (native, C order) as uint8
    slow_codecs: list[str] = field(default_factory=list)
    dimension_names: list[str | None] | None = None
    # "utf8" / "bytes" for variable-length items (zarr/strings.py): `fallback`
    # then decodes a chunk to an object array of its items.
    vlen: str | None = None

    @property
    def ndim(self) -> int:
        return len(self.shape)


def load_json(raw: bytes | None, what: str) -> dict[str, Any]:
    if raw is None:
        raise MetadataError(f"{what} is missing")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"{what} is not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{what} is not a JSON object")
    return doc


def _int_tuple(value: Any, what: str, minimum: int) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)):
        raise MetadataError(f"{what} must be a list of integers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            raise MetadataError(f"{what} must be a list of integers, got {value!r}")
        if v < minimum or v > _MAX_DIM:
            raise MetadataError(f"{what} has an out-of-range entry {v}")
        out.append(v)
    return tuple(out)


def _check_sizes(shape: tuple[int, ...], chunks: tuple[int, ...], itemsize: int) -> None:
    if len(shape) != len(chunks):
        raise MetadataError(f"chunks {chunks} do not match the rank of shape {shape}")
    if math.prod(chunks) * itemsize >= 2**63 or math.prod(shape) * itemsize >= 2**63:
        raise MetadataError("array or chunk size overflows 64 bits")
    if math.prod(chunks) * itemsize > 2**40:
        raise UnsupportedError("chunks larger than 1 TiB are not supported")


# ---------------------------------------------------------------- v2


def parse_v2(zarray: dict[str, Any], attrs: dict[str, Any], path: str) -> ArrayMeta:
    if zarray.get("zarr_format") != 2:
        raise MetadataError(f"unsupported zarr_format {zarray.get('zarr_format')!r} in .zarray")
    filters = zarray.get("filters") or []
    if not isinstance(filters, list):
        raise MetadataError("filters must be a list or null")
    vlen = _strings.v2_kind(zarray.get("dtype"), filters)
    dt = _strings.numpy_dtype(vlen) if vlen else _dtypes.v2_dtype(zarray.get("dtype"), filters)
    shape = _int_tuple(zarray.get("shape"), "shape", 0)
    chunks = _int_tuple(zarray.get("chunks"), "chunks", 1)
    _check_sizes(shape, chunks, dt.itemsize)
    order = zarray.get("order", "C")
    if order not in ("C", "F"):
        raise MetadataError(f"order must be 'C' or 'F', got {order!r}")
    sep_given = "dimension_separator" in zarray
    sep = zarray.get("dimension_separator") or "."
    if sep not in (".", "/"):
        raise MetadataError(f"dimension_separator must be '.' or '/', got {sep!r}")
    compressor = zarray.get("compressor")
    if compressor is not None and not (
        isinstance(compressor, dict) and isinstance(compressor.get("id"), str)
    ):
        raise MetadataError(f"invalid compressor {compressor!r}")
    for f in filters:
        if not (isinstance(f, dict) and isinstance(f.get("id"), str)):
            raise MetadataError(f"invalid filter {f!r}")

    names = [f["id"] for f in filters] + ([compressor["id"]] if compressor else [])
    ndt = _dtypes.native(dt)
    meta = ArrayMeta(
        zarr_format=2,
        path=path,
        shape=shape,
        chunks=chunks,
        dtype=ndt,
        stored_dtype=dt,
        fill_value=(_strings.fill_value(zarray.get("fill_value"), vlen, dt) if vlen
                    else _dtypes.fill_value(zarray.get("fill_value"), dt, 2)),
        attrs=attrs,
        codec_names=names,
        key_prefix="",
        separator=sep,
        zero_dim_key="0",
        nested_fallback=not sep_given,
        native_codecs=None,
        stored_axes=list(range(len(shape)))[::-1] if order == "F" and len(shape) > 1 else None,
        vlen=vlen,
    )
    if vlen:
        meta.fallback = _strings.chunk_decoder(_strings.v2_steps(compressor, filters), vlen,
                                               chunks, meta.stored_axes)
        return meta
    steps = [(c["id"], c) for c in filters + ([compressor] if compressor else [])]
    endian = {"<": "little", ">": "big"}.get(dt.str[0]) if dt.itemsize > 1 else None
    meta.native_codecs = _codecs.native_chain(2, dt.str, steps, endian)
    if meta.native_codecs is None:
        from fastchunk.zarr.fallback import as_chunk_bytes, v2_decoder

        decode, meta.slow_codecs = v2_decoder(compressor, filters, dt, chunks, order)
        meta.fallback = as_chunk_bytes(decode)
    return meta


# ---------------------------------------------------------------- v3

_V3_ARRAY_KEYS = {
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "storage_transformers",
}


def check_must_understand(doc: dict[str, Any], known: set[str], what: str) -> None:
    for key, value in doc.items():
        if key in known:
            continue
        if isinstance(value, dict) and value.get("must_understand") is False:
            continue
        raise UnsupportedError(f"{what}: unknown field {key!r} that must be understood")


def _codec_entry(c: Any) -> tuple[str, dict[str, Any]]:
    if isinstance(c, str):
        return c, {}
    if isinstance(c, dict) and isinstance(c.get("name"), str):
        config = c.get("configuration") or {}
        if not isinstance(config, dict):
            raise MetadataError(f"codec configuration must be an object: {c!r}")
        return c["name"], config
    raise MetadataError(f"invalid codec entry {c!r}")


_BYTES = _codecs.BYTE_ORDER  # the zarr v3 `bytes` codec ("endian" in early drafts)
_SHARDING = "sharding_indexed"
_TRANSPOSE = "transpose"
_VARIABLE_LENGTH = ("vlen-utf8", "vlen-bytes")


@dataclass
class _V3Chain:
    stored_axes: list[int] | None
    endian: str | None  # of the bytes codec
    serializer: tuple[str, dict[str, Any]]  # the array-to-bytes codec (not sharding)
    bytes_codecs: list[tuple[str, dict[str, Any]]]
    array_codecs: list[tuple[str, dict[str, Any]]]  # non-transpose array->array
    sharding: dict[str, Any] | None
    vlen: str | None = None  # vlen-utf8 / vlen-bytes as the array-to-bytes codec

    @property
    def steps(self) -> list[tuple[str, dict[str, Any]]]:
        """The codecs the core chains (transpose is the copy's strides)."""
        return [*self.array_codecs, self.serializer, *self.bytes_codecs]


def _v3_kind(name: str) -> str | None:
    """array_to_array, array_to_bytes or bytes_to_bytes; None when unknown."""
    native = _codecs.native_codec(3, name)
    if native is not None:
        return native.kind
    if name in (_SHARDING, "endian"):
        return "array_to_bytes"
    if name == _TRANSPOSE:
        return "array_to_array"
    from fastchunk.zarr.fallback import numcodecs_kind

    if name.startswith(_codecs.NUMCODECS_PREFIX):
        return numcodecs_kind(name[len(_codecs.NUMCODECS_PREFIX) :])
    # Filters written without the prefix by early writers.
    bare = _codecs.registry().get(name)
    if bare is not None and bare.numcodecs and bare.kind == "array_to_array":
        return bare.kind
    return numcodecs_kind(name, bare=True)


def _split_v3_chain(codecs: Any, ndim: int, what: str) -> _V3Chain:
    if not isinstance(codecs, list) or not codecs:
        raise MetadataError(f"{what}: codecs must be a non-empty list")
    entries = [_codec_entry(c) for c in codecs]
    perm = list(range(ndim))
    array_codecs: list[tuple[str, dict[str, Any]]] = []
    i = 0
    while i < len(entries):
        name, config = entries[i]
        if name in _VARIABLE_LENGTH:
            break
        kind = _v3_kind(name)
        if kind == "array_to_bytes":
            break
        if name == _TRANSPOSE:
            order = config.get("order")
            if order == "C":
                order = list(range(ndim))
            elif order == "F":
                order = list(range(ndim))[::-1]
            if (not isinstance(order, list)
                    or not all(type(o) is int for o in order)
                    or sorted(order) != list(range(ndim))):
                raise MetadataError(f"{what}: invalid transpose order {order!r}")
            if array_codecs:
                raise UnsupportedError(f"{what}: transpose after {array_codecs[-1][0]}")
            perm = [perm[o] for o in order]
        elif kind == "array_to_array":
            array_codecs.append((name, config))
        elif kind == "bytes_to_bytes":
            raise MetadataError(f"{what}: bytes-to-bytes codec {name!r} before an array-to-bytes "
                                "codec (bytes or sharding_indexed)")
        else:
            raise UnsupportedError(f"{what}: codec {name!r} is not supported")
        i += 1
    if i >= len(entries):
        raise MetadataError(f"{what}: no array-to-bytes codec (bytes or sharding_indexed)")
    name, config = entries[i]
    name = _BYTES if name == "endian" else name
    endian: str | None = None
    sharding = None
    vlen = name if name in _VARIABLE_LENGTH else None
    if name == _BYTES:
        endian = config.get("endian")
        if endian not in (None, "little", "big"):
            raise MetadataError(f"{what}: invalid endian {endian!r}")
    elif name == _SHARDING:
        sharding = config
    bytes_codecs = entries[i + 1 :]
    for bname, _ in bytes_codecs:
        if _v3_kind(bname) in ("array_to_bytes", "array_to_array"):
            raise MetadataError(f"{what}: codec {bname!r} in the bytes-to-bytes position")
        if bname in _VARIABLE_LENGTH:
            raise UnsupportedError(f"{what}: codec {bname!r} (variable length) is not supported")
    return _V3Chain(
        stored_axes=None if perm == list(range(ndim)) else perm,
        endian=endian,
        serializer=(name, config),
        bytes_codecs=bytes_codecs,
        array_codecs=array_codecs,
        sharding=sharding,
        vlen=vlen,
    )


def _key_encoding(doc: dict[str, Any], what: str) -> tuple[str, str, str]:
    enc = doc.get("chunk_key_encoding") or {"name": "default"}
    name, config = _codec_entry(enc)
    sep = config.get("separator")
    if sep is not None and not isinstance(sep, str):
        raise MetadataError(f"{what}: invalid chunk key separator {sep!r}")
    if name == "default":
        sep = sep or "/"
        prefix, zero = "c" + sep, "c"
    elif name == "v2":
        sep = sep or "."
        prefix, zero = "", "0"
    else:
        raise UnsupportedError(f"{what}: chunk_key_encoding {name!r} is not supported")
    if sep not in (".", "/"):
        raise MetadataError(f"{what}: invalid chunk key separator {sep!r}")
    return prefix, sep, zero


def parse_v3(doc: dict[str, Any], path: str, what: str = "zarr.json") -> ArrayMeta:
    check_must_understand(doc, _V3_ARRAY_KEYS | {"consolidated_metadata"}, what)
    if doc.get("storage_transformers"):
        raise UnsupportedError(f"{what}: storage transformers are not supported")
    vlen = _strings.v3_kind(doc.get("data_type"))
    dt = _strings.numpy_dtype(vlen) if vlen else _dtypes.v3_dtype(doc.get("data_type"))
    shape = _int_tuple(doc.get("shape"), "shape", 0)
    grid_name, grid_config = _codec_entry(doc.get("chunk_grid"))
    if grid_name != "regular":
        raise UnsupportedError(f"{what}: chunk grid {grid_name!r} is not supported")
    outer = _int_tuple(grid_config.get("chunk_shape"), "chunk_shape", 1)
    _check_sizes(shape, outer, dt.itemsize)
    chain = _split_v3_chain(doc.get("codecs"), len(shape), what)
    prefix, sep, zero = _key_encoding(doc, what)
    names = [_codec_entry(c)[0] for c in doc["codecs"]]
    shard = None
    chunks = outer
    if chain.sharding is not None:
        cfg = chain.sharding
        inner_shape = _int_tuple(cfg.get("chunk_shape"), "sharding chunk_shape", 1)
        if len(inner_shape) != len(shape) or any(
            o % c for o, c in zip(outer, inner_shape, strict=True)
        ):
            raise MetadataError(
                f"{what}: shard shape {outer} is not a multiple of inner chunks {inner_shape}"
            )
        per = tuple(o // c for o, c in zip(outer, inner_shape, strict=True))
        if math.prod(per) > 2**32:
            raise MetadataError(f"{what}: shards of more than 2^32 chunks are not supported")
        index_chain = _split_v3_chain(
            cfg.get("index_codecs", [{"name": "bytes", "configuration": {"endian": "little"}},
                                     {"name": "crc32c"}]),
            len(shape) + 1,
            what + " index_codecs",
        )
        if (index_chain.sharding is not None or index_chain.stored_axes is not None
                or index_chain.array_codecs):
            raise UnsupportedError(f"{what}: transposed, filtered or nested shard index")
        index_native = _codecs.native_chain(3, "<u8", index_chain.steps)
        index_names = [n for n, _ in index_chain.bytes_codecs]
        n_inner = math.prod(per)
        index_nbytes = (_core.chain_encoded_size(index_native, 16 * n_inner)
                        if index_native is not None else None)
        # The remote reader's stand-in shard re-encodes the index with crc32c only.
        if index_nbytes is None or any(n != "crc32c" for n in index_names):
            raise UnsupportedError(f"{what}: shard index codecs {index_chain.bytes_codecs!r}")
        location = cfg.get("index_location", "end")
        if location not in ("start", "end"):
            raise MetadataError(f"{what}: invalid index_location {location!r}")
        shard = ShardLayout(
            shard_shape=outer,
            chunks_per_shard=per,
            index_chain=index_native,
            index_at_start=location == "start",
            index_nbytes=index_nbytes,
        )
        inner = _split_v3_chain(cfg.get("codecs"), len(shape), what + " inner codecs")
        if inner.sharding is not None:
            raise UnsupportedError(f"{what}: nested sharding is not supported")
        if chain.bytes_codecs or chain.array_codecs:
            outer_names = [n for n, _ in chain.array_codecs + chain.bytes_codecs]
            raise UnsupportedError(
                f"{what}: codecs {outer_names} around sharding_indexed (compressing whole "
                "shards) are not supported; put them inside the sharding codec"
            )
        chain = inner
        chunks = inner_shape
        names = names + [_codec_entry(c)[0] for c in cfg["codecs"]]
    dim_names = doc.get("dimension_names")
    meta = ArrayMeta(
        zarr_format=3,
        path=path,
        shape=shape,
        chunks=chunks,
        dtype=dt,
        stored_dtype=dt,
        fill_value=(_strings.fill_value(doc.get("fill_value"), vlen, dt) if vlen
                    else _dtypes.fill_value(doc.get("fill_value"), dt, 3)),
        attrs=doc.get("attributes") or {},
        codec_names=names,
        key_prefix=prefix,
        separator=sep,
        zero_dim_key=zero,
        nested_fallback=False,
        native_codecs=None,
        stored_axes=chain.stored_axes,
        shard=shard,
        dimension_names=dim_names if isinstance(dim_names, list) else None,
        vlen=vlen,
    )
    if vlen or chain.vlen:
        codec_kind = {"vlen-utf8": "utf8", "vlen-bytes": "bytes"}.get(chain.vlen or "")
        if codec_kind is None:
            raise UnsupportedError(f"{what}: data type {doc.get('data_type')!r} without a "
                                   "vlen-utf8 or vlen-bytes codec is not supported")
        if codec_kind != vlen:
            raise MetadataError(f"{what}: data type {doc.get('data_type')!r} with codec "
                                f"{chain.vlen!r}")
        if chain.array_codecs:
            raise UnsupportedError(f"{what}: codecs {[n for n, _ in chain.array_codecs]} "
                                   "before a variable-length codec")
        meta.fallback = _strings.chunk_decoder(_strings.v3_steps(chain.bytes_codecs), vlen,
                                               chunks, chain.stored_axes)
        if shard is not None:
            from fastchunk.zarr.fallback import shard_decoder

            meta.fallback = shard_decoder(meta.fallback, shard, chunks,
                                          np.array(meta.fill_value[()], dtype=object))
        return meta
    meta.native_codecs = _codecs.native_chain(3, dt.str, chain.steps)
    if meta.native_codecs is None:
        from fastchunk.zarr.fallback import as_chunk_bytes, shard_decoder, v3_decoder

        decode, meta.slow_codecs = v3_decoder(chain, dt, chunks)
        if shard is not None:
            # The core then sees each shard as one already decoded chunk.
            decode = shard_decoder(decode, shard, chunks, meta.fill_value)
        meta.fallback = as_chunk_bytes(decode)
    return meta
