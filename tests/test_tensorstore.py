"""Stores written by tensorstore (zarr and zarr3 drivers) read like numpy."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tensorstore as ts

import fastchunk
from tests.common import check_reads, random_data

SHAPE = (13, 17)
CHUNKS = [5, 4]


def ts_write(spec: dict[str, Any], data: np.ndarray | None, region: Any = ...) -> None:
    store = ts.open(spec, create=True, delete_existing=True).result()
    if data is not None:
        store[region].write(data[region]).result()


def v2_spec(path: Path, dtype: str, **metadata: Any) -> dict[str, Any]:
    md = {"shape": list(SHAPE), "chunks": CHUNKS, "dtype": dtype, "compressor": None}
    md.update(metadata)
    return {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, "metadata": md}


def v3_spec(path: Path, data_type: str, codecs: list, shape: tuple = SHAPE,
            chunks: list = CHUNKS, **metadata: Any) -> dict[str, Any]:
    md = {
        "shape": list(shape),
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "codecs": codecs,
    }
    md.update(metadata)
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}, "metadata": md}


def read_fast(path: Path, expected: np.ndarray) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastchunk.SlowCodecWarning)
        check_reads(fastchunk.open(path), expected)


# ------------------------------------------------------------------ zarr (v2)

V2_DTYPES = ["|b1", "|i1", "|u1"] + [
    o + d for d in ("i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")
    for o in "<>"
]
V2_COMPRESSORS = [
    {"id": "blosc", "cname": cname, "clevel": 5, "shuffle": shuffle}
    for cname in ("blosclz", "lz4", "lz4hc", "zlib", "zstd") for shuffle in (0, 1, 2)
] + [{"id": "zlib", "level": 4}, {"id": "gzip", "level": 4}, {"id": "zstd", "level": 2}, None]


@pytest.mark.parametrize("dtype", V2_DTYPES)
def test_v2_dtypes(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    data = random_data(rng, SHAPE, dtype)
    ts_write(v2_spec(tmp_path / "a", dtype), data)
    read_fast(tmp_path / "a", data)


@pytest.mark.parametrize("compressor", V2_COMPRESSORS, ids=lambda c: json.dumps(c))
def test_v2_compressors(tmp_path: Path, rng: np.random.Generator, compressor: Any) -> None:
    data = (np.cumsum(rng.integers(-2, 3, size=SHAPE), axis=1) * 5).astype("<i4")
    ts_write(v2_spec(tmp_path / "a", "<i4", compressor=compressor), data)
    read_fast(tmp_path / "a", data)


def test_v2_bz2_fallback(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, SHAPE, "<f8")
    ts_write(v2_spec(tmp_path / "a", "<f8", compressor={"id": "bz2", "level": 3}), data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        check_reads(fastchunk.open(tmp_path / "a"), data)


@pytest.mark.parametrize("separator", [".", "/"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_v2_order_and_separator(
    tmp_path: Path, rng: np.random.Generator, order: str, separator: str
) -> None:
    data = random_data(rng, SHAPE, ">f4")
    spec = v2_spec(tmp_path / "a", ">f4", order=order, dimension_separator=separator,
                   compressor={"id": "zstd", "level": 1})
    ts_write(spec, data)
    assert (tmp_path / "a" / f"1{separator}2").is_file()
    read_fast(tmp_path / "a", data)


@pytest.mark.parametrize("fill", ["NaN", "Infinity", "-Infinity", 2.5, None])
def test_v2_fill_values(tmp_path: Path, rng: np.random.Generator, fill: Any) -> None:
    data = random_data(rng, SHAPE, "<f8")
    region = np.s_[2:8, 5:11]
    ts_write(v2_spec(tmp_path / "a", "<f8", fill_value=fill), data, region)
    value = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf, None: 0.0}.get(fill, fill)
    expected = np.full(SHAPE, value)
    expected[region] = data[region]
    read_fast(tmp_path / "a", expected)


# ------------------------------------------------------------------ zarr3

BYTES = {"name": "bytes", "configuration": {"endian": "little"}}
BYTES_BIG = {"name": "bytes", "configuration": {"endian": "big"}}
V3_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
             "float16", "float32", "float64", "complex64", "complex128"]


@pytest.mark.parametrize("endian", [BYTES, BYTES_BIG], ids=["little", "big"])
@pytest.mark.parametrize("dtype", V3_DTYPES)
def test_v3_dtypes(tmp_path: Path, rng: np.random.Generator, dtype: str, endian: dict) -> None:
    data = random_data(rng, SHAPE, dtype)
    codecs = [BYTES if dtype in ("bool", "int8", "uint8") else endian]
    ts_write(v3_spec(tmp_path / "a", dtype, codecs), data)
    read_fast(tmp_path / "a", data)


V3_CHAINS = [
    [{"name": "transpose", "configuration": {"order": [1, 0]}}, BYTES],
    [BYTES_BIG, {"name": "gzip", "configuration": {"level": 3}}],
    [BYTES, {"name": "zstd", "configuration": {"level": 3}}],
    [BYTES, {"name": "crc32c"}],
    [BYTES, {"name": "zstd"}, {"name": "crc32c"}],
] + [
    [BYTES, {"name": "blosc", "configuration": {"cname": c, "clevel": 4, "shuffle": s,
                                                "typesize": 4}}]
    for c in ("blosclz", "lz4", "lz4hc", "zlib", "zstd")
    for s in ("noshuffle", "shuffle", "bitshuffle")
]


@pytest.mark.parametrize("codecs", V3_CHAINS, ids=lambda cs: "+".join(c["name"] for c in cs))
def test_v3_codecs(tmp_path: Path, rng: np.random.Generator, codecs: list) -> None:
    data = (np.cumsum(rng.integers(-2, 3, size=SHAPE), axis=0) * 3).astype("float32")
    ts_write(v3_spec(tmp_path / "a", "float32", codecs), data)
    read_fast(tmp_path / "a", data)


@pytest.mark.parametrize(
    "encoding",
    [{"name": "default"}, {"name": "default", "configuration": {"separator": "."}},
     {"name": "v2"}, {"name": "v2", "configuration": {"separator": "/"}}],
    ids=["default/", "default.", "v2.", "v2/"],
)
def test_v3_chunk_key_encodings(tmp_path: Path, rng: np.random.Generator, encoding: dict) -> None:
    data = random_data(rng, SHAPE, "int16")
    ts_write(v3_spec(tmp_path / "a", "int16", [BYTES], chunk_key_encoding=encoding), data)
    read_fast(tmp_path / "a", data)


@pytest.mark.parametrize("fill", ["NaN", "Infinity", "-Infinity", "0x7fc00000", -1.25])
def test_v3_fill_values(tmp_path: Path, rng: np.random.Generator, fill: Any) -> None:
    data = random_data(rng, SHAPE, "float32")
    region = np.s_[0:6, 3:14]
    ts_write(v3_spec(tmp_path / "a", "float32", [BYTES], fill_value=fill), data, region)
    value = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf, "0x7fc00000": np.nan}.get(
        fill, fill
    )
    expected = np.full(SHAPE, value, dtype="float32")
    expected[region] = data[region]
    read_fast(tmp_path / "a", expected)


def sharding_codec(location: str, crc: bool, inner: list, codecs: list) -> dict[str, Any]:
    return {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": inner,
            "codecs": codecs,
            "index_codecs": [BYTES] + ([{"name": "crc32c"}] if crc else []),
            "index_location": location,
        },
    }


@pytest.mark.parametrize("crc", [True, False])
@pytest.mark.parametrize("location", ["start", "end"])
def test_v3_sharding(tmp_path: Path, rng: np.random.Generator, location: str, crc: bool) -> None:
    shape = (23, 19)
    data = random_data(rng, shape, "int32")
    data[0:3, 0:3] = 0  # an inner chunk of fill values: not stored
    inner = [{"name": "transpose", "configuration": {"order": [1, 0]}}, BYTES,
             {"name": "zstd", "configuration": {"level": 1}}]
    spec = v3_spec(tmp_path / "a", "int32", [sharding_codec(location, crc, [3, 3], inner)],
                   shape=shape, chunks=[9, 6], fill_value=0)
    region = np.s_[0:16, 2:19]  # shards partly written, one row of shards missing
    ts_write(spec, data, region)
    expected = np.zeros(shape, dtype="int32")
    expected[region] = data[region]
    a = fastchunk.open(tmp_path / "a")
    assert a.chunks == (3, 3) and a.shards == (9, 6)
    read_fast(tmp_path / "a", expected)


def test_v3_sharding_blosc_crc_inner(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, (16, 12, 4), "float64")
    inner = [BYTES_BIG, {"name": "blosc", "configuration": {"cname": "lz4", "clevel": 5,
                                                            "shuffle": "shuffle",
                                                            "typesize": 8}},
             {"name": "crc32c"}]
    spec = v3_spec(tmp_path / "a", "float64", [sharding_codec("end", True, [4, 3, 2], inner)],
                   shape=data.shape, chunks=[8, 6, 4])
    ts_write(spec, data)
    read_fast(tmp_path / "a", data)


def test_v3_zero_dim(tmp_path: Path) -> None:
    spec = v3_spec(tmp_path / "a", "float64", [BYTES], shape=(), chunks=[])
    store = ts.open(spec, create=True).result()
    store.write(np.float64(7.25)).result()
    a = fastchunk.open(tmp_path / "a")
    assert a.shape == ()
    assert a[()] == 7.25
