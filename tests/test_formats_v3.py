"""zarr v3 stores written by zarr-python 3 (and by hand where it writes no
such thing) read like numpy."""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path
from typing import Any

import crc32c
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import fastchunk
from tests.common import assert_same, check_reads, edit_json, no_slow_warning_reads, random_data

# zarr-python warns that consolidated metadata is not in the v3 spec yet.
pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

SHAPE = (13, 17)
CHUNKS = (5, 4)

DTYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
    "M8[s]", "M8[ms]", "M8[ns]", "M8[10ms]", "m8[s]", "m8[us]", "m8[D]",
]  # fmt: skip


def write_v3(path: Path, data: np.ndarray, **kwargs: Any) -> zarr.Array:
    kwargs.setdefault("chunks", CHUNKS[: data.ndim])
    z = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, zarr_format=3, **kwargs)
    z[...] = data
    return z


def zarr_json(path: Path) -> dict[str, Any]:
    return json.loads((path / "zarr.json").read_text())




@pytest.mark.parametrize("dtype", ["S5", "U3", "V4"])
def test_fixed_size_bytes_and_strings(tmp_path: Path, dtype: str) -> None:
    """zarr-python's v3 names for numpy's S, U and V: null_terminated_bytes,
    fixed_length_utf32 and raw_bytes (what xarray writes for bytes and str)."""
    values = {"S": [b"ab", b"", b"cdefg"], "U": ["x", "\u00e9t\u00e9", ""],
              "V": [b"\x01\x02\x03\x04", b"\0\0\0\0", b"wxyz"]}[dtype[0]]
    data = np.array(values * 8, dtype=dtype).reshape(4, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr: these types have no v3 specification yet
        z = zarr.create_array(str(tmp_path / "a.zarr"), shape=data.shape, dtype=data.dtype,
                              chunks=(3, 4), zarr_format=3)
        data[3:, 4:] = z.fill_value  # a chunk of fill values: not written, read as the fill
        z[...] = data
    assert not (tmp_path / "a.zarr" / "c" / "1" / "1").exists()
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.dtype == data.dtype
    no_slow_warning_reads(a, data)


@pytest.mark.parametrize("endian", ["little", "big"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_data_types_and_endian(
    tmp_path: Path, rng: np.random.Generator, dtype: str, endian: str
) -> None:
    data = random_data(rng, SHAPE, dtype)
    write_v3(tmp_path / "a.zarr", data, serializer=zc.BytesCodec(endian=endian))
    doc = zarr_json(tmp_path / "a.zarr")
    if np.dtype(dtype).kind in "Mm":
        assert doc["data_type"]["name"].startswith("numpy.")
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.zarr_format == 3
    assert a.dtype == np.dtype(dtype)
    no_slow_warning_reads(a, data)


@pytest.mark.parametrize(
    ("encoding", "key"),
    [
        ({"name": "default"}, "c/1/2/0"),
        ({"name": "default", "separator": "."}, "c.1.2.0"),
        ({"name": "v2"}, "1.2.0"),
        ({"name": "v2", "separator": "/"}, "1/2/0"),
    ],
)
def test_chunk_key_encodings(
    tmp_path: Path, rng: np.random.Generator, encoding: dict, key: str
) -> None:
    data = random_data(rng, (7, 9, 3), "int32")
    write_v3(tmp_path / "a.zarr", data, chunks=(3, 4, 3), chunk_key_encoding=encoding)
    assert (tmp_path / "a.zarr" / key).is_file()
    check_reads(fastchunk.open(tmp_path / "a.zarr"), data)


FILLS = [
    ("float32", 1.5), ("float64", float("nan")), ("float64", float("inf")),
    ("float32", float("-inf")), ("int16", -7), ("uint64", 2**64 - 1), ("bool", True),
    ("complex64", 1 - 2j), ("complex128", complex(float("nan"), float("-inf"))),
    ("M8[s]", np.datetime64("NaT", "s")), ("m8[ms]", np.timedelta64(-3, "ms")),
]  # fmt: skip


@pytest.mark.parametrize(("dtype", "fill"), FILLS)
def test_fill_values_of_missing_chunks(
    tmp_path: Path, rng: np.random.Generator, dtype: str, fill: Any
) -> None:
    data = random_data(rng, SHAPE, dtype)
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=SHAPE, chunks=CHUNKS, dtype=dtype,
                          fill_value=fill)
    z[4:9, 1:6] = data[4:9, 1:6]
    expected = np.full(SHAPE, fill, dtype=dtype)
    expected[4:9, 1:6] = data[4:9, 1:6]
    a = fastchunk.open(tmp_path / "a.zarr")
    check_reads(a, expected)
    np.testing.assert_array_equal(np.asarray(a.fill_value), np.asarray(fill, dtype=dtype))


HAND_FILLS = [
    ("float32", "NaN", np.float32("nan")),
    ("float64", "Infinity", np.inf),
    ("float16", "-Infinity", -np.inf),
    ("float32", "0x7fc00001", np.frombuffer(bytes.fromhex("7fc00001"), ">f4")[0]),
    ("float32", "0x3fc00000", 1.5),
    ("float64", "0xc004000000000000", -2.5),
    ("float16", "0x3c00", 1.0),
    ("int32", "0xfffffffe", -2),
    ("uint16", "0x0102", 258),
    ("complex64", ["0x3f800000", "NaN"], complex(1.0, float("nan"))),
    ("complex128", [2.5, "-Infinity"], complex(2.5, float("-inf"))),
    ("int8", -128, -128),
    ("bool", False, False),
]  # fmt: skip


@pytest.mark.parametrize(("dtype", "literal", "value"), HAND_FILLS)
def test_fill_value_json_literals(tmp_path: Path, dtype: str, literal: Any, value: Any) -> None:
    path = tmp_path / "a.zarr"
    data = np.ones(4, dtype=dtype)
    z = zarr.create_array(str(path), shape=(6,), chunks=(4,), dtype=dtype)
    z[:4] = data
    edit_json(path / "zarr.json", lambda d: d.update(fill_value=literal))
    expected = np.concatenate([data, np.full(2, value, dtype=dtype)])
    got = fastchunk.open(path)[:]
    assert_same(got, expected)
    # Bit patterns too: a hex NaN keeps its payload.
    np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8))


with warnings.catch_warnings():  # zarr warns that numcodecs.* codecs are not in the spec
    warnings.simplefilter("ignore")
    NATIVE_CHAINS = [
        [zc.TransposeCodec(order=(1, 0)), zc.BytesCodec()],
        [zc.TransposeCodec(order=(2, 0, 1)), zc.BytesCodec(endian="big"), zc.ZstdCodec()],
        [zc.BytesCodec(), zc.BloscCodec(cname="lz4", shuffle="shuffle")],
        [zc.BytesCodec(), zc.BloscCodec(cname="zstd", shuffle="bitshuffle")],
        [zc.BytesCodec(), zc.BloscCodec(cname="blosclz", shuffle="noshuffle")],
        [zc.BytesCodec(), zc.BloscCodec(cname="lz4hc", shuffle="shuffle")],
        [zc.BytesCodec(), zc.BloscCodec(cname="zlib", shuffle="bitshuffle")],
        [zc.BytesCodec(), zc.ZstdCodec(level=5, checksum=True)],
        [zc.BytesCodec(), zc.GzipCodec(level=6)],
        [zc.BytesCodec(), zc.Crc32cCodec()],
        [zc.BytesCodec(endian="big"), zc.GzipCodec(), zc.Crc32cCodec()],
        [zc.TransposeCodec(order=(0, 2, 1)), zc.BytesCodec(), zc.Crc32cCodec(), zc.ZstdCodec()],
        [zc.BytesCodec(), zc.Zlib(level=3)],
        [zc.BytesCodec(), zc.LZ4()],
        [zc.BytesCodec(), zc.Blosc(cname="lz4", shuffle=1)],
        [zc.BytesCodec(), zc.Zstd(level=1)],
    ]


@pytest.mark.parametrize(
    "codecs",
    NATIVE_CHAINS,
    ids=lambda cs: "+".join(type(c).__name__ for c in cs),
)
@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_native_codecs(
    tmp_path: Path, rng: np.random.Generator, codecs: list, dtype: str
) -> None:
    ndim = 3 if any(isinstance(c, zc.TransposeCodec) and len(c.order) == 3 for c in codecs) else 2
    shape, chunks = ((6, 7, 5), (4, 3, 2)) if ndim == 3 else (SHAPE, CHUNKS)
    data = (np.cumsum(rng.integers(-3, 4, size=shape), axis=-1) * 7).astype(dtype)
    array_codecs = [c for c in codecs if isinstance(c, zc.TransposeCodec)]
    serializer = [c for c in codecs if isinstance(c, zc.BytesCodec)][0]
    compressors = [c for c in codecs if c not in array_codecs and c is not serializer]
    z = write_v3(tmp_path / "a.zarr", data, chunks=chunks, filters=array_codecs,
                 serializer=serializer, compressors=compressors)
    assert len(z.metadata.codecs) == len(codecs)
    no_slow_warning_reads(fastchunk.open(tmp_path / "a.zarr"), data)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    FALLBACK_CASES = [
        ([zc.Delta(dtype="<f2")], [zc.ZstdCodec()], ["numcodecs.delta"]),
        ([zc.FixedScaleOffset(offset=1, scale=10, dtype="<f8", astype="<i4")], [],
         ["numcodecs.fixedscaleoffset"]),
        ([zc.Quantize(digits=2, dtype="<f8")], [zc.GzipCodec()], ["numcodecs.quantize"]),
        ([zc.BitRound(keepbits=6)], [], ["numcodecs.bitround"]),
        ([zc.AsType(encode_dtype="<f4", decode_dtype="<f8")], [], ["numcodecs.astype"]),
        ([], [zc.LZMA(format=3, filters=[{"id": 33, "preset": 1}])], ["numcodecs.lzma"]),
        ([], [zc.Shuffle(elementsize=8), zc.Adler32(), zc.ZstdCodec()], ["numcodecs.adler32"]),
        ([zc.TransposeCodec(order=(1, 0)), zc.BitRound(keepbits=7)], [zc.ZstdCodec()],
         ["numcodecs.bitround"]),
    ]


@pytest.mark.parametrize(
    ("filters", "compressors", "slow"),
    FALLBACK_CASES,
    ids=lambda v: "+".join(v) if isinstance(v, list) and v and isinstance(v[0], str) else None,
)
def test_numcodecs_fallback(
    tmp_path: Path, rng: np.random.Generator, filters: list, compressors: list, slow: list,
    fresh_slow_warnings: None,
) -> None:
    dtype = "float16" if filters and isinstance(filters[0], zc.Delta) else "float64"
    data = np.round(random_data(rng, SHAPE, dtype), 1)
    z = write_v3(tmp_path / "a.zarr", data, filters=filters, compressors=compressors)
    names = [c["name"] for c in zarr_json(tmp_path / "a.zarr")["codecs"]]
    assert all(s in names for s in slow)
    expected = z[...]  # zarr-python's own decode (some filters are lossy)
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning) as record:
        check_reads(a, expected)
        check_reads(a, expected)
    warned = [w for w in record if issubclass(w.category, fastchunk.SlowCodecWarning)]
    assert len(warned) == 1
    for s in slow:
        assert s in str(warned[0].message)
    assert "crc32c" not in str(warned[0].message) and "zstd" not in str(warned[0].message)


def test_crc32c_detects_corruption(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, SHAPE, "float64")
    path = tmp_path / "a.zarr"
    write_v3(path, data, compressors=[zc.Crc32cCodec()])
    chunk = path / "c" / "1" / "2"
    raw = bytearray(chunk.read_bytes())
    raw[10] ^= 0x40
    chunk.write_bytes(bytes(raw))
    a = fastchunk.open(path)
    with pytest.raises(fastchunk.ChunkDecodeError, match=r"c/1/2.*crc32c|crc32c.*c/1/2"):
        a[...]
    # Chunks that are intact still read.
    assert_same(a[:5, :8], data[:5, :8])


def test_inline_consolidated_metadata(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "g.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=3, attributes={"a": 1})
    x = random_data(rng, (10, 4), "float32")
    y = random_data(rng, (6,), "int16")
    root.create_array("x", shape=x.shape, chunks=(3, 4), dtype=x.dtype,
                      attributes={"units": "m"})[...] = x
    sub = root.create_group("sub", attributes={"b": 2})
    sub.create_array("y", shape=y.shape, chunks=(4,), dtype=y.dtype)[...] = y
    zarr.consolidate_metadata(str(path))
    cm = zarr_json(path)["consolidated_metadata"]
    assert cm["kind"] == "inline" and set(cm["metadata"]) == {"x", "sub", "sub/y"}
    # Only the root document is left: the reader must use its inline metadata.
    for doc in ("x/zarr.json", "sub/zarr.json", "sub/y/zarr.json"):
        (path / doc).unlink()
    g = fastchunk.open_group(path)
    assert g.attrs == {"a": 1}
    assert g.keys() == ["sub", "x"]
    assert g["x"].attrs == {"units": "m"}
    assert g["sub"].attrs == {"b": 2}
    check_reads(g["x"], x)
    check_reads(g["sub"]["y"], y)
    check_reads(fastchunk.open(path, path="sub/y"), y)


@pytest.mark.parametrize("node", ["array", "group"])
@pytest.mark.parametrize(
    ("extra", "ok"),
    [
        ({"must_understand": False, "x": 1}, True),
        ({"must_understand": True}, False),
        ({"x": 1}, False),
        ("text", False),
    ],
)
def test_must_understand(tmp_path: Path, node: str, extra: Any, ok: bool) -> None:
    path = tmp_path / "a.zarr"
    if node == "array":
        zarr.create_array(str(path), shape=(3,), dtype="int8")[:] = [1, 2, 3]
    else:
        zarr.open_group(str(path), mode="w", zarr_format=3)
    edit_json(path / "zarr.json", lambda d: d.update(my_extension=extra))
    if ok:
        node_obj = fastchunk.open(path)
        if node == "array":
            assert_same(node_obj[:], np.array([1, 2, 3], dtype="int8"))
    else:
        with pytest.raises(fastchunk.FastchunkError, match="my_extension"):
            fastchunk.open(path)


# ------------------------------------------------------------------ sharding


def sharding(location: str = "end", crc: bool = True, inner: tuple = (2, 3),
             codecs: list | None = None) -> zc.ShardingCodec:
    index_codecs = [zc.BytesCodec()] + ([zc.Crc32cCodec()] if crc else [])
    return zc.ShardingCodec(
        chunk_shape=inner, codecs=codecs or [zc.BytesCodec(), zc.ZstdCodec()],
        index_codecs=index_codecs, index_location=location,
    )


@pytest.mark.parametrize("crc", [True, False])
@pytest.mark.parametrize("location", ["start", "end"])
def test_sharding_index_layouts(
    tmp_path: Path, rng: np.random.Generator, location: str, crc: bool
) -> None:
    data = random_data(rng, (11, 14), "float32")
    path = tmp_path / "a.zarr"
    write_v3(path, data, chunks=(4, 6), serializer=sharding(location, crc), compressors=None)
    cfg = zarr_json(path)["codecs"][0]["configuration"]
    assert cfg["index_location"] == location
    assert len(cfg["index_codecs"]) == (2 if crc else 1)
    a = fastchunk.open(path)
    assert a.chunks == (2, 3) and a.shards == (4, 6)
    no_slow_warning_reads(a, data)


@pytest.mark.parametrize(
    "inner_codecs",
    [
        [zc.BytesCodec(endian="big")],
        [zc.TransposeCodec(order=(1, 0)), zc.BytesCodec(), zc.BloscCodec(cname="lz4")],
        [zc.BytesCodec(), zc.GzipCodec(), zc.Crc32cCodec()],
    ],
    ids=["big", "transpose-blosc", "gzip-crc32c"],
)
def test_sharding_inner_codecs(
    tmp_path: Path, rng: np.random.Generator, inner_codecs: list
) -> None:
    data = random_data(rng, (11, 14), "int32")
    path = tmp_path / "a.zarr"
    write_v3(path, data, chunks=(4, 6), serializer=sharding(codecs=inner_codecs),
             compressors=None)
    no_slow_warning_reads(fastchunk.open(path), data)


@pytest.mark.parametrize("location", ["start", "end"])
def test_sharding_empty_and_missing_inner_chunks(
    tmp_path: Path, rng: np.random.Generator, location: str
) -> None:
    data = random_data(rng, (11, 14), "float64")
    data[0:2, 0:3] = -1.0  # a whole inner chunk of fill: not stored
    data[4:6, 6:12] = -1.0
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=data.shape, chunks=(4, 6), dtype="float64",
                          serializer=sharding(location), compressors=None, fill_value=-1.0)
    z[:7, :9] = data[:7, :9]  # parts of shards written, other shards missing
    expected = np.full(data.shape, -1.0)
    expected[:7, :9] = data[:7, :9]
    index = read_shard_index(path / "c" / "0" / "0", 4, location, crc=True)
    assert (index[0] == 2**64 - 1).all()  # the empty inner chunk is marked as such
    assert not (path / "c" / "2" / "2").exists()
    check_reads(fastchunk.open(path), expected)


def read_shard_index(shard: Path, n: int, location: str, crc: bool) -> np.ndarray:
    raw = shard.read_bytes()
    size = 16 * n + (4 if crc else 0)
    blob = raw[:size] if location == "start" else raw[-size:]
    return np.frombuffer(blob[: 16 * n], dtype="<u8").reshape(n, 2)


def write_shard(shard: Path, pieces: list[bytes | None], order: list[int], location: str,
                crc: bool) -> None:
    """Rewrites a shard with its inner chunks stored in `order`."""
    n = len(pieces)
    size = 16 * n + (4 if crc else 0)
    index = np.full((n, 2), 2**64 - 1, dtype="<u8")
    body = b""
    base = size if location == "start" else 0
    for i in order:
        if pieces[i] is None:
            continue
        index[i] = (base + len(body), len(pieces[i]))
        body += pieces[i]
    blob = index.tobytes()
    if crc:
        blob += struct.pack("<I", crc32c.crc32c(blob))
    shard.write_bytes(blob + body if location == "start" else body + blob)


@pytest.mark.parametrize("crc", [True, False])
@pytest.mark.parametrize("location", ["start", "end"])
def test_sharding_inner_chunks_in_any_order(
    tmp_path: Path, rng: np.random.Generator, location: str, crc: bool
) -> None:
    data = random_data(rng, (8, 12), "uint16")
    data[2:4, 3:6] = 0  # an empty inner chunk (fill value 0)
    path = tmp_path / "a.zarr"
    write_v3(path, data, chunks=(4, 6), serializer=sharding(location, crc), compressors=None)
    for shard in sorted((path / "c").rglob("*")):
        if not shard.is_file():
            continue
        raw = shard.read_bytes()
        index = read_shard_index(shard, 4, location, crc)
        pieces = [None if off == 2**64 - 1 else raw[int(off):int(off + nb)]
                  for off, nb in index]
        write_shard(shard, pieces, [3, 2, 1, 0], location, crc)  # zarr-python: Morton order
        offsets = [int(off) for off, _ in read_shard_index(shard, 4, location, crc)
                   if off != 2**64 - 1]
        assert offsets == sorted(offsets, reverse=True)
    assert_same(zarr.open_array(str(path))[...], data)  # zarr-python agrees on the store
    check_reads(fastchunk.open(path), data)


def test_sharding_zarr_defaults_partial_edge(tmp_path: Path, rng: np.random.Generator) -> None:
    """zarr-python's default sharding (Morton order, crc32c index at the end)
    with shards and inner chunks cut by the array edge."""
    data = random_data(rng, (23, 19, 3), "int16")
    path = tmp_path / "a.zarr"
    write_v3(path, data, chunks=(4, 3, 2), shards=(8, 9, 2))
    check_reads(fastchunk.open(path), data)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    SHARDED_SLOW = [zc.Adler32(), zc.FixedScaleOffset(offset=0, scale=1, dtype="<i4")]


@pytest.mark.parametrize("compressor", SHARDED_SLOW, ids=["adler32", "fixedscaleoffset"])
def test_sharding_with_numcodecs_codecs(
    tmp_path: Path, rng: np.random.Generator, compressor: Any, fresh_slow_warnings: None
) -> None:
    data = random_data(rng, (11, 14), "int32") // 1000
    path = tmp_path / "a.zarr"
    if isinstance(compressor, zc.FixedScaleOffset):
        write_v3(path, data, chunks=(2, 3), shards=(4, 6), filters=[compressor])
    else:
        write_v3(path, data, chunks=(2, 3), shards=(4, 6), compressors=[compressor])
    a = fastchunk.open(path)
    with pytest.warns(fastchunk.SlowCodecWarning):
        check_reads(a, data)


# ------------------------------------------------------------------ shapes


def test_missing_chunks_and_edges(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, SHAPE, "float32")
    path = tmp_path / "a.zarr"
    write_v3(path, data, fill_value=float("nan"))
    for key in ("c/0/0", "c/2/4", "c/1/3"):
        (path / key).unlink()
    expected = data.copy()
    expected[0:5, 0:4] = np.nan
    expected[10:13, 16:17] = np.nan
    expected[5:10, 12:16] = np.nan
    check_reads(fastchunk.open(path), expected)


@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
def test_zero_size(tmp_path: Path, shape: tuple) -> None:
    data = np.zeros(shape, dtype="int32")
    write_v3(tmp_path / "a.zarr", data, chunks=(2,) * len(shape))
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.shape == shape and a.nbytes == 0 and a.size == 0
    assert_same(a[...], data)
    assert_same(np.asarray(a), data)


@pytest.mark.parametrize("encoding", [{"name": "default"}, {"name": "v2"}])
@pytest.mark.parametrize("dtype", ["float64", "int8", "complex64"])
def test_zero_dim(tmp_path: Path, dtype: str, encoding: dict) -> None:
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=(), dtype=dtype, chunk_key_encoding=encoding)
    z[()] = 5
    assert (path / ("c" if encoding["name"] == "default" else "0")).is_file()
    a = fastchunk.open(path)
    assert a.shape == () and a.ndim == 0
    assert a[()] == 5
    assert_same(np.asarray(a), np.array(5, dtype=dtype))


def test_zero_dim_missing_chunk(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path / "a.zarr"), shape=(), dtype="int16", fill_value=-9)
    assert fastchunk.open(tmp_path / "a.zarr")[()] == -9


def test_dimension_names_and_attrs(tmp_path: Path) -> None:
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(2, 3), dtype="uint8",
                          dimension_names=["y", "x"], attributes={"k": "v"})
    z[:] = 3
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.attrs == {"k": "v"}
    assert a._meta.dimension_names == ["y", "x"]


@pytest.mark.filterwarnings("ignore:The data type")  # zarr: no v3 spec yet
@pytest.mark.parametrize("dtype", [str, "bytes"])
def test_variable_length_read(tmp_path: Path, dtype: Any) -> None:
    # More in test_strings.py.
    z = zarr.create_array(str(tmp_path / "s.zarr"), shape=(4,), chunks=(2,), dtype=dtype)
    values = ["a", "bb", "ccc", "d"] if dtype is str else [b"a", b"bb", b"ccc", b"d"]
    z[:] = values
    assert fastchunk.open(tmp_path / "s.zarr")[[3, 0]].tolist() == [values[3], values[0]]
