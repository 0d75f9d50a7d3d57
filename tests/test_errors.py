"""Every kind of bad input gives its documented exception: MetadataError,
ChunkDecodeError naming the chunk key, UnsupportedError naming the codec or
dtype, FileNotFoundError for a missing store or path."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import crc32c
import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import fastchunk
from tests.common import edit_json, random_data


def test_hierarchy() -> None:
    for cls in (fastchunk.MetadataError, fastchunk.ChunkDecodeError, fastchunk.UnsupportedError):
        assert issubclass(cls, fastchunk.FastchunkError)


# ------------------------------------------------------------------ metadata


def v2_store(path: Path) -> Path:
    z = zarr.create_array(str(path), shape=(6, 4), chunks=(3, 2), dtype="<i4", zarr_format=2)
    z[:] = np.arange(24).reshape(6, 4)
    return path


def v3_store(path: Path) -> Path:
    z = zarr.create_array(str(path), shape=(6, 4), chunks=(3, 2), dtype="int32")
    z[:] = np.arange(24).reshape(6, 4)
    return path


def setter(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.update(fields)


def dropper(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.pop(key)


BAD_V2 = {
    "shape-negative": setter(shape=[-1, 4]),
    "shape-string": setter(shape="6,4"),
    "shape-float": setter(shape=[6.0, 4]),
    "shape-missing": dropper("shape"),
    "chunks-rank": setter(chunks=[3]),
    "chunks-zero": setter(chunks=[0, 2]),
    "chunks-bool": setter(chunks=[True, 2]),
    "dtype-garbage": setter(dtype="<q9"),
    "dtype-number": setter(dtype=4),
    "order": setter(order="X"),
    "separator": setter(dimension_separator="-"),
    "compressor-not-object": setter(compressor="zstd"),
    "filter-without-id": setter(filters=[{"level": 1}]),
    "filters-not-list": setter(filters={"id": "delta"}),
    "fill-not-number": setter(fill_value="lots"),
    "fill-not-integer": setter(fill_value=1.5),
    "zarr-format": setter(zarr_format=3),
}


@pytest.mark.parametrize("change", BAD_V2.values(), ids=BAD_V2.keys())
def test_v2_bad_metadata(tmp_path: Path, change: Callable) -> None:
    path = v2_store(tmp_path / "a.zarr")
    edit_json(path / ".zarray", change)
    with pytest.raises(fastchunk.MetadataError):
        fastchunk.open(path)


BAD_V3 = {
    "shape-negative": setter(shape=[6, -4]),
    "shape-null": setter(shape=None),
    "chunks-rank": setter(chunk_grid={"name": "regular",
                                      "configuration": {"chunk_shape": [3, 2, 1]}}),
    "chunks-zero": setter(chunk_grid={"name": "regular", "configuration": {"chunk_shape": [3, 0]}}),
    "grid-garbage": setter(chunk_grid=7),
    "data-type-number": setter(data_type=7),
    "codecs-empty": setter(codecs=[]),
    "codecs-no-bytes": setter(codecs=[{"name": "zstd"}]),
    "codecs-entry": setter(codecs=[{"configuration": {}}]),
    "endian": setter(codecs=[{"name": "bytes", "configuration": {"endian": "middle"}}]),
    "transpose-order": setter(codecs=[{"name": "transpose", "configuration": {"order": [0, 0]}},
                                      {"name": "bytes"}]),
    "bytes-twice": setter(codecs=[{"name": "bytes"}, {"name": "bytes"}]),
    "separator": setter(chunk_key_encoding={"name": "default",
                                            "configuration": {"separator": "-"}}),
    "fill": setter(fill_value="many"),
    "fill-hex": setter(fill_value="0xZZ"),
    "zarr-format": setter(zarr_format=4),
    "node-type": setter(node_type="table"),
    "shard-not-multiple": setter(codecs=[{"name": "sharding_indexed", "configuration": {
        "chunk_shape": [2, 2], "codecs": [{"name": "bytes"}]}}]),
}


@pytest.mark.parametrize("change", BAD_V3.values(), ids=BAD_V3.keys())
def test_v3_bad_metadata(tmp_path: Path, change: Callable) -> None:
    path = v3_store(tmp_path / "a.zarr")
    edit_json(path / "zarr.json", change)
    with pytest.raises(fastchunk.MetadataError):
        fastchunk.open(path)


@pytest.mark.parametrize(
    "doc", [".zarray", ".zattrs", "zarr.json", ".zmetadata", ".zgroup"]
)
@pytest.mark.parametrize("text", ['{"shape": [6, 4', "", "[1, 2]", "\xff\xfe"])
def test_broken_json(tmp_path: Path, doc: str, text: str) -> None:
    if doc == "zarr.json":
        path = v3_store(tmp_path / "a.zarr")
    elif doc == ".zgroup":
        path = tmp_path / "g.zarr"
        zarr.open_group(str(path), mode="w", zarr_format=2)
    else:
        path = v2_store(tmp_path / "a.zarr")
    (path / doc).write_bytes(text.encode("latin-1"))
    with pytest.raises(fastchunk.MetadataError, match=doc.replace(".", r"\.")):
        fastchunk.open(path)


def test_metadata_error_names_the_store(tmp_path: Path) -> None:
    path = v3_store(tmp_path / "named.zarr")
    edit_json(path / "zarr.json", setter(shape=[-2, 4]))
    with pytest.raises(fastchunk.MetadataError, match="named.zarr"):
        fastchunk.open(path)


def test_open_array_on_group_and_group_on_array(tmp_path: Path) -> None:
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("x", shape=(2,), dtype="int8")
    with pytest.raises(fastchunk.MetadataError, match="group"):
        fastchunk.open_array(tmp_path / "g.zarr")
    with pytest.raises(fastchunk.MetadataError, match="array"):
        fastchunk.open_group(tmp_path / "g.zarr", path="x")


# ------------------------------------------------------------------ missing


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        fastchunk.open(tmp_path / "nothing.zarr")
    with pytest.raises(FileNotFoundError):
        fastchunk.open(str(tmp_path / "nothing.zarr"))


def test_missing_store_file_instead_of_directory(tmp_path: Path) -> None:
    (tmp_path / "file.zarr").write_bytes(b"not a store")
    with pytest.raises(FileNotFoundError):
        fastchunk.open(tmp_path / "file.zarr")


def test_empty_directory_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(FileNotFoundError):
        fastchunk.open(tmp_path / "empty.zarr")
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("x", shape=(2,), dtype="int8")
    with pytest.raises(FileNotFoundError, match="nope"):
        fastchunk.open(tmp_path / "g.zarr", path="nope")
    with pytest.raises(FileNotFoundError):
        fastchunk.open_group(tmp_path / "g.zarr")["x/y"]


# ------------------------------------------------------------------ unsupported


def test_unknown_v2_compressor(tmp_path: Path) -> None:
    path = v2_store(tmp_path / "a.zarr")
    edit_json(path / ".zarray", setter(compressor={"id": "no-such-codec"}))
    with pytest.raises(fastchunk.UnsupportedError, match="no-such-codec"):
        fastchunk.open(path)[:]


def test_unknown_v2_filter(tmp_path: Path) -> None:
    path = v2_store(tmp_path / "a.zarr")
    edit_json(path / ".zarray", setter(filters=[{"id": "mystery-filter"}]))
    with pytest.raises(fastchunk.UnsupportedError, match="mystery-filter"):
        fastchunk.open(path)[:]


@pytest.mark.parametrize(
    "codecs",
    [
        [{"name": "bytes"}, {"name": "no-such-codec"}],
        [{"name": "no-such-codec"}, {"name": "bytes"}],
        [{"name": "no-such-codec"}],
    ],
)
def test_unknown_v3_codec(tmp_path: Path, codecs: list) -> None:
    path = v3_store(tmp_path / "a.zarr")
    edit_json(path / "zarr.json", setter(codecs=codecs))
    with pytest.raises(fastchunk.UnsupportedError, match="no-such-codec"):
        fastchunk.open(path)[:]


@pytest.mark.parametrize("data_type", ["float128", "int4", "complex256", {"name": "struct9"}])
def test_unknown_v3_data_type(tmp_path: Path, data_type: Any) -> None:
    path = v3_store(tmp_path / "a.zarr")
    edit_json(path / "zarr.json", setter(data_type=data_type))
    name = data_type if isinstance(data_type, str) else data_type["name"]
    with pytest.raises(fastchunk.UnsupportedError, match=name):
        fastchunk.open(path)


@pytest.mark.parametrize("dtype", [[["a", "<i4"], ["b", "<f8"]], "|O"])
def test_unsupported_v2_dtype(tmp_path: Path, dtype: Any) -> None:
    path = v2_store(tmp_path / "a.zarr")
    edit_json(path / ".zarray", setter(dtype=dtype))
    with pytest.raises(fastchunk.UnsupportedError, match="dtype"):
        fastchunk.open(path)


@pytest.mark.parametrize(
    "fields",
    [
        {"chunk_grid": {"name": "rectilinear",
                        "configuration": {"chunk_shapes": [[3, 3], [2, 2]]}}},
        {"chunk_key_encoding": {"name": "fancy"}},
        {"storage_transformers": [{"name": "sharding"}]},
    ],
    ids=["grid", "key-encoding", "storage-transformer"],
)
def test_unsupported_v3_layouts(tmp_path: Path, fields: dict) -> None:
    path = v3_store(tmp_path / "a.zarr")
    edit_json(path / "zarr.json", setter(**fields))
    with pytest.raises(fastchunk.UnsupportedError):
        fastchunk.open(path)


# ------------------------------------------------------------------ chunk decode

V2_CODECS = {
    "blosc-lz4": numcodecs.Blosc(cname="lz4", shuffle=1),
    "blosc-zstd-bit": numcodecs.Blosc(cname="zstd", shuffle=2),
    "blosc-zlib": numcodecs.Blosc(cname="zlib", shuffle=0),
    "zstd": numcodecs.Zstd(level=1),
    "gzip": numcodecs.GZip(level=1),
    "zlib": numcodecs.Zlib(level=1),
    "lz4": numcodecs.LZ4(),
    "none": None,
}
# Codecs whose framing carries a checksum of the data: a flipped bit is caught.
CHECKSUMMED = {"gzip", "zlib", "crc32c", "zstd-checksum", "gzip-crc32c"}


def corrupt(chunk: Path, how: str) -> None:
    raw = chunk.read_bytes()
    if how == "truncated":
        chunk.write_bytes(raw[: len(raw) // 2])
    elif how == "empty":
        chunk.write_bytes(b"")
    elif how == "garbage":
        chunk.write_bytes(np.random.default_rng(3).integers(0, 256, 77, dtype="u1").tobytes())
    elif how == "bitflip":
        body = bytearray(raw)
        body[len(body) // 2] ^= 0x10
        chunk.write_bytes(bytes(body))
    else:
        raise ValueError(how)


def expect_decode_error(path: Path, key: str) -> None:
    a = fastchunk.open(path)
    with pytest.raises(fastchunk.ChunkDecodeError) as info:
        a[...]
    message = str(info.value)
    assert key in message
    assert str(path) in message
    with pytest.raises(fastchunk.ChunkDecodeError):
        a.take([5, 0], axis=1)


def corruptions(codecs: dict[str, Any]) -> list[Any]:
    """(codec, how) pairs; a flipped bit only where the framing has a checksum
    (elsewhere it may decode to other values without any error)."""
    return [
        pytest.param(codec, how, id=f"{name}-{how}")
        for name, codec in codecs.items()
        for how in ("truncated", "empty", "garbage", "bitflip")
        if how != "bitflip" or name in CHECKSUMMED
    ]


@pytest.mark.parametrize(("codec", "how"), corruptions(V2_CODECS))
def test_v2_corrupt_chunks(
    tmp_path: Path, rng: np.random.Generator, codec: Any, how: str
) -> None:
    data = random_data(rng, (6, 8), "<f8")
    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=data.shape, chunks=(3, 4), dtype=data.dtype,
                      zarr_format=2, compressors=codec)[...] = data
    corrupt(path / "1.1", how)
    expect_decode_error(path, "1.1")


V3_CHAINS = {
    "zstd": [zc.ZstdCodec()],
    "zstd-checksum": [zc.ZstdCodec(checksum=True)],
    "gzip": [zc.GzipCodec()],
    "blosc": [zc.BloscCodec(cname="lz4")],
    "crc32c": [zc.Crc32cCodec()],
    "gzip-crc32c": [zc.GzipCodec(), zc.Crc32cCodec()],
    "none": [],
}


@pytest.mark.parametrize(("chain", "how"), corruptions(V3_CHAINS))
def test_v3_corrupt_chunks(tmp_path: Path, rng: np.random.Generator, chain: list, how: str) -> None:
    data = random_data(rng, (6, 8), "int64")
    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=data.shape, chunks=(3, 4), dtype=data.dtype,
                      compressors=chain)[...] = data
    corrupt(path / "c" / "1" / "0", how)
    expect_decode_error(path, "c/1/0")


@pytest.mark.parametrize("how", ["truncated", "garbage", "index-crc", "index-past-end"])
@pytest.mark.parametrize("location", ["start", "end"])
def test_corrupt_shards(tmp_path: Path, rng: np.random.Generator, location: str, how: str) -> None:
    data = random_data(rng, (8, 8), "float32")
    path = tmp_path / "a.zarr"
    codec = zc.ShardingCodec(chunk_shape=(2, 2), codecs=[zc.BytesCodec(), zc.ZstdCodec()],
                             index_location=location)
    zarr.create_array(str(path), shape=data.shape, chunks=(4, 4), dtype=data.dtype,
                      serializer=codec, compressors=None)[...] = data
    shard = path / "c" / "1" / "1"
    raw = bytearray(shard.read_bytes())
    index_start = 0 if location == "start" else len(raw) - (16 * 4 + 4)
    if how == "index-crc":
        raw[index_start + 3] ^= 1
        shard.write_bytes(bytes(raw))
    elif how == "index-past-end":
        entries = np.frombuffer(bytes(raw[index_start : index_start + 64]), "<u8").copy()
        entries[2] = len(raw) + 100  # offset of an inner chunk beyond the shard
        blob = entries.tobytes()
        blob += crc32c.crc32c(blob).to_bytes(4, "little")
        raw[index_start : index_start + 68] = blob
        shard.write_bytes(bytes(raw))
    else:
        corrupt(shard, how)
    expect_decode_error(path, "c/1/1")


def test_fallback_codec_corrupt_chunk_names_key(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, (6, 8), "<f8")
    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=data.shape, chunks=(3, 4), dtype=data.dtype,
                      zarr_format=2, compressors=numcodecs.BZ2())[...] = data
    corrupt(path / "0.1", "garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        expect_decode_error(path, "0.1")


def test_hostile_blosc_header_does_not_allocate(tmp_path: Path, rng: np.random.Generator) -> None:
    """A blosc header claiming a huge decoded size is refused, not allocated."""
    data = random_data(rng, (6, 8), "<f8")
    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=data.shape, chunks=(3, 4), dtype=data.dtype,
                      zarr_format=2, compressors=numcodecs.Blosc())[...] = data
    raw = bytearray((path / "0.0").read_bytes())
    raw[4:8] = (2**31 - 1).to_bytes(4, "little")
    (path / "0.0").write_bytes(bytes(raw))
    expect_decode_error(path, "0.0")


def test_error_leaves_array_usable(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, (6, 8), "<i2")
    path = tmp_path / "a.zarr"
    zarr.create_array(str(path), shape=data.shape, chunks=(3, 4), dtype=data.dtype,
                      zarr_format=2)[...] = data
    corrupt(path / "0.0", "garbage")
    a = fastchunk.open(path)
    for _ in range(3):
        with pytest.raises(fastchunk.ChunkDecodeError):
            a[...]
        np.testing.assert_array_equal(a[3:, :], data[3:, :])


def test_json_fields_of_the_wrong_type(tmp_path: Path) -> None:
    path = v2_store(tmp_path / "a.zarr")
    (path / ".zarray").write_text(json.dumps([1, 2, 3]))
    with pytest.raises(fastchunk.MetadataError):
        fastchunk.open(path)
