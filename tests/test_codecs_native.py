"""The codecs the core's registry added (numcodecs shuffle and delta filters,
bz2 and lzma compressors): v2 and v3 arrays written by zarr-python read like
numpy, natively (no SlowCodecWarning), alone and combined, in several dtypes
and byte orders. Also the fallback's datetime reads and the numcodecs
array-to-bytes codecs (issue 12)."""

from __future__ import annotations

import importlib.util
import json
import lzma
import warnings
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import fastchunk
from fastchunk import _core
from tests.common import assert_same, check_reads, edit_json, no_slow_warning_reads, random_data

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # zarr-python warns that numcodecs codecs are not v3 spec
    import zarr.codecs.numcodecs as znc

SHAPE = (13, 17)
CHUNKS = (5, 4)


def write_v2(path: Path, data: np.ndarray, **kwargs: Any) -> zarr.Array:
    kwargs.setdefault("chunks", CHUNKS)
    z = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, zarr_format=2, **kwargs)
    z[...] = data
    return z


def write_v3(path: Path, data: np.ndarray, **kwargs: Any) -> zarr.Array:
    kwargs.setdefault("chunks", CHUNKS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        z = zarr.create_array(str(path), shape=data.shape, dtype=data.dtype, zarr_format=3,
                              **kwargs)
        z[...] = data
    return z


def native(a: np.ndarray) -> np.ndarray:
    return np.asarray(a).astype(a.dtype.newbyteorder("="))


def delta_friendly(rng: np.random.Generator, dtype: str) -> np.ndarray:
    """Smooth data in `dtype` (delta's differences small, as in real use)."""
    dt = np.dtype(dtype)
    steps = rng.integers(-3, 4, size=SHAPE)
    if dt.kind == "f":
        return (np.cumsum(steps, axis=1) * 0.25).astype(dt)
    return np.cumsum(steps, axis=1).astype(dt)


def test_registry_lists_the_new_codecs() -> None:
    rows = {row["name"]: row for row in _core.codecs()}
    for name in ("shuffle", "delta", "bz2", "lzma"):
        assert rows[name]["numcodecs"] and not rows[name]["zarr_v3"]
    assert rows["delta"]["kind"] == "array_to_array"
    assert rows["shuffle"]["kind"] == rows["bz2"]["kind"] == "bytes_to_bytes"
    assert rows["bytes"]["kind"] == "array_to_bytes" and rows["bytes"]["zarr_v3"]
    assert rows["crc32c"]["zarr_v3"] and not rows["crc32c"]["numcodecs"]


# ------------------------------------------------------------------ zarr v2

V2_DTYPES = ["<i4", ">i8", "<u2", "|u1", "<f8", ">f4", ">M8[ns]", "<c8"]


def _v2_chains(dt: np.dtype) -> dict[str, tuple[list[Any] | None, Any]]:
    es = dt.itemsize
    chains: dict[str, tuple[list[Any] | None, Any]] = {
        "shuffle": ([numcodecs.Shuffle(elementsize=es)], None),
        "bz2": (None, numcodecs.BZ2(level=3)),
        "lzma": (None, numcodecs.LZMA()),
        "lzma-alone": (None, numcodecs.LZMA(format=lzma.FORMAT_ALONE, preset=1)),
        "lzma-nocheck": (None, numcodecs.LZMA(check=lzma.CHECK_NONE, preset=9)),
        "shuffle+bz2": ([numcodecs.Shuffle(elementsize=es)], numcodecs.BZ2(level=9)),
        "shuffle+zstd": ([numcodecs.Shuffle(elementsize=es)], numcodecs.Zstd(level=1)),
    }
    if dt.kind in "iuf":
        chains["delta+zstd"] = ([numcodecs.Delta(dtype=dt.str)], numcodecs.Zstd())
        chains["delta+shuffle+lzma"] = (
            [numcodecs.Delta(dtype=dt.str), numcodecs.Shuffle(elementsize=es)],
            numcodecs.LZMA(preset=1),
        )
        chains["delta+bz2"] = ([numcodecs.Delta(dtype=dt.str)], numcodecs.BZ2())
    return chains


V2_CASES = [(d, name) for d in V2_DTYPES for name in _v2_chains(np.dtype(d))]


@pytest.mark.parametrize(("dtype", "chain"), V2_CASES, ids=[f"{d}-{c}" for d, c in V2_CASES])
@pytest.mark.parametrize("order", ["C", "F"])
def test_v2_native_filters_and_compressors(
    tmp_path: Path, rng: np.random.Generator, dtype: str, chain: str, order: str
) -> None:
    dt = np.dtype(dtype)
    filters, compressor = _v2_chains(dt)[chain]
    data = delta_friendly(rng, dtype) if "delta" in chain else random_data(rng, SHAPE, dtype)
    z = write_v2(tmp_path / "a.zarr", data, filters=filters, compressors=compressor, order=order)
    doc = json.loads((tmp_path / "a.zarr" / ".zarray").read_text())
    assert doc["dtype"] == dtype and doc["order"] == order
    assert [f["id"] for f in doc["filters"] or []] == [f.codec_id for f in filters or []]
    expected = native(z[...])  # zarr-python's own decode
    if dt.kind != "f" or "delta" not in chain:  # float deltas round
        assert_same(expected, data)
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.metadata.native_codecs is not None
    no_slow_warning_reads(a, expected)


DELTA_ASTYPES = [
    ("<i4", "<i2"), ("<i8", "<i1"), ("<u2", "<u1"), (">i4", "<i8"), ("<u4", ">i8"),
    ("<f8", "<f4"), (">f4", ">f8"), ("<i2", "<u2"),
]  # fmt: skip


@pytest.mark.parametrize(("dtype", "astype"), DELTA_ASTYPES)
def test_v2_delta_astype(
    tmp_path: Path, rng: np.random.Generator, dtype: str, astype: str
) -> None:
    """Differences stored in another type decode as numpy sums them (in the
    promoted type, then cast), wrapping integers included."""
    data = delta_friendly(rng, dtype)
    delta = numcodecs.Delta(dtype=dtype, astype=astype)
    z = write_v2(tmp_path / "a.zarr", data, filters=[delta], compressors=numcodecs.BZ2())
    no_slow_warning_reads(fastchunk.open(tmp_path / "a.zarr"), native(z[...]))


def test_v2_shuffle_elementsize_other_than_the_item(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    data = random_data(rng, SHAPE, "<f8")
    for es in (2, 4, 1, 0, 16):
        path = tmp_path / f"a{es}.zarr"
        write_v2(path, data, filters=[numcodecs.Shuffle(elementsize=es)], compressors=None)
        no_slow_warning_reads(fastchunk.open(path), data)
    # A chunk of 5 * 4 * 8 bytes is not whole 3-byte elements: a clean error.
    edit_json(tmp_path / "a4.zarr" / ".zarray",
              lambda d: d["filters"][0].update(elementsize=3))
    with pytest.raises(fastchunk.ChunkDecodeError, match="shuffle"):
        fastchunk.open(tmp_path / "a4.zarr")[...]


def test_v2_lzma_with_custom_filters_still_reads_through_numcodecs(
    tmp_path: Path, rng: np.random.Generator, fresh_slow_warnings: None
) -> None:
    data = random_data(rng, SHAPE, "<f4")
    raw = numcodecs.LZMA(format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2, "preset": 1}])
    write_v2(tmp_path / "a.zarr", data, compressors=raw)
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.metadata.native_codecs is None
    with pytest.warns(fastchunk.SlowCodecWarning, match="lzma"):
        check_reads(a, data)


def test_v2_corrupt_bz2_and_lzma_chunks_name_the_key(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    data = random_data(rng, SHAPE, "<f8")
    for name, codec in (("bz2", numcodecs.BZ2()), ("lzma", numcodecs.LZMA())):
        path = tmp_path / f"{name}.zarr"
        write_v2(path, data, compressors=codec)
        chunk = path / "1.2"
        raw = bytearray(chunk.read_bytes())
        raw[len(raw) // 2] ^= 0x55
        chunk.write_bytes(bytes(raw))
        with pytest.raises(fastchunk.ChunkDecodeError, match=rf"1\.2.*{name}"):
            fastchunk.open(path)[...]
        (path / "1.2").write_bytes(bytes(raw[: len(raw) // 3]))  # truncated
        with pytest.raises(fastchunk.ChunkDecodeError, match=rf"1\.2.*{name}"):
            fastchunk.open(path)[...]


# ------------------------------------------------------------------ zarr v3

V3_CASES = {
    "shuffle+bz2": ([], [znc.Shuffle(), znc.BZ2(level=5)]),
    "lzma+crc32c": ([], [znc.LZMA(preset=2), zc.Crc32cCodec()]),
    "delta+zstd": ([znc.Delta(dtype="<i8")], [zc.ZstdCodec()]),
    "delta+shuffle+lzma": ([znc.Delta(dtype="<i8")], [znc.Shuffle(elementsize=8), znc.LZMA()]),
    "delta+bz2+crc32c": ([znc.Delta(dtype="<i8")], [znc.BZ2(), zc.Crc32cCodec()]),
    "transpose+delta": ([zc.TransposeCodec(order=(1, 0)), znc.Delta(dtype="<i8")],
                        [znc.BZ2()]),
    "delta-astype": ([znc.Delta(dtype="<i8", astype="<i2")], [znc.Shuffle(), zc.ZstdCodec()]),
}


@pytest.mark.parametrize("case", list(V3_CASES))
@pytest.mark.parametrize("endian", ["little", "big"])
def test_v3_native_numcodecs(
    tmp_path: Path, rng: np.random.Generator, case: str, endian: str
) -> None:
    filters, compressors = V3_CASES[case]
    data = delta_friendly(rng, "int64")
    z = write_v3(tmp_path / "a.zarr", data, filters=filters, compressors=compressors,
                 serializer=zc.BytesCodec(endian=endian))
    expected = data
    if case.startswith("transpose"):
        # zarr-python's delta encoder differences the transposed view in
        # memory order (logical order), its decoder sums in stored order: it
        # does not read back what it wrote. fastchunk reads what it reads
        # (from the little-endian store: see below for big-endian deltas).
        little = write_v3(tmp_path / "little.zarr", data, filters=filters,
                          compressors=compressors, serializer=zc.BytesCodec(endian="little"))
        expected = native(little[...])
    elif endian == "little" or "delta" not in case:
        assert_same(native(z[...]), data)
    # (zarr-python reads big-endian deltas wrong: its delta views the
    # big-endian array as little-endian.)
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.metadata.native_codecs is not None
    no_slow_warning_reads(a, expected)


@pytest.mark.parametrize("dtype", ["float32", "uint16", "complex64", "int8"])
@pytest.mark.parametrize("compressor", ["bz2", "lzma", "shuffle"])
def test_v3_sharded_native_numcodecs(
    tmp_path: Path, rng: np.random.Generator, dtype: str, compressor: str
) -> None:
    data = random_data(rng, (11, 14), dtype)
    codec = {"bz2": znc.BZ2(), "lzma": znc.LZMA(preset=1), "shuffle": znc.Shuffle()}[compressor]
    write_v3(tmp_path / "a.zarr", data, chunks=(4, 6), shards=(8, 12), compressors=[codec],
             serializer=zc.BytesCodec(endian="big"))
    no_slow_warning_reads(fastchunk.open(tmp_path / "a.zarr"), data)


def test_v3_big_endian_blosc_partial_decode(tmp_path: Path, rng: np.random.Generator) -> None:
    """Byte order is a codec of the chain: partial decoding of blosc blocks
    swaps only the blocks it decodes."""
    data = random_data(rng, (4, 5000), "float64")
    write_v3(tmp_path / "a.zarr", data, chunks=(4, 5000), serializer=zc.BytesCodec(endian="big"),
             compressors=[zc.BloscCodec(cname="lz4", blocksize=4096, shuffle="shuffle")])
    a = fastchunk.open(tmp_path / "a.zarr")
    assert_same(a[1, 100:180], data[1, 100:180])
    assert_same(a[:, 4990:], data[:, 4990:])
    assert_same(a[...], data)


# ------------------------------------------------------------------ issue 12


@pytest.mark.parametrize("dtype", ["<M8[ns]", ">M8[s]", "<m8[us]"])
def test_v2_datetimes_through_the_fallback(
    tmp_path: Path, rng: np.random.Generator, dtype: str, fresh_slow_warnings: None
) -> None:
    """A codec that needs numcodecs (a checksum) on datetimes: the decoded
    chunk reaches the core as bytes (it raised "cannot include dtype 'M' in a
    buffer")."""
    data = random_data(rng, SHAPE, dtype)
    write_v2(tmp_path / "a.zarr", data, filters=[numcodecs.Fletcher32()],
             compressors=numcodecs.Zstd())
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning, match="fletcher32"):
        check_reads(a, data)


@pytest.mark.parametrize("dtype", ["datetime64[ms]", "timedelta64[s]"])
@pytest.mark.parametrize("sharded", [False, True])
def test_v3_datetimes_through_the_fallback(
    tmp_path: Path, rng: np.random.Generator, dtype: str, sharded: bool,
    fresh_slow_warnings: None,
) -> None:
    data = random_data(rng, SHAPE, dtype)
    write_v3(tmp_path / "a.zarr", data, compressors=[znc.Adler32(), zc.ZstdCodec()],
             shards=(10, 8) if sharded else None)
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning, match="adler32"):
        check_reads(a, data)


def test_v3_pcodec_is_array_to_bytes(
    tmp_path: Path, rng: np.random.Generator, fresh_slow_warnings: None
) -> None:
    """numcodecs.pcodec is the array-to-bytes codec of its chain (it was taken
    for a filter: "no array-to-bytes codec"); it reads through numcodecs."""
    if importlib.util.find_spec("pcodec") is None:
        pytest.skip("the pcodec package is not installed")
    data = random_data(rng, SHAPE, "float32")
    z = write_v3(tmp_path / "a.zarr", data, serializer=znc.PCodec(level=8), compressors=None)
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning, match="pcodec"):
        check_reads(a, z[...])


def test_v3_zfpy_without_its_package_names_it(tmp_path: Path) -> None:
    if importlib.util.find_spec("zfpy") is not None:
        pytest.skip("zfpy is installed")
    path = tmp_path / "a.zarr"
    path.mkdir()
    doc = {
        "zarr_format": 3, "node_type": "array", "shape": [8, 8], "data_type": "float64",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0.0,
        "codecs": [{"name": "numcodecs.zfpy",
                    "configuration": {"mode": 4, "tolerance": -1, "rate": -1, "precision": -1}},
                   {"name": "zstd", "configuration": {"level": 0, "checksum": False}}],
    }  # fmt: skip
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(fastchunk.UnsupportedError, match="zfpy"):
        fastchunk.open(path)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["float32", "<f4", "f4"])
def test_delta_dtype_given_as_a_numpy_name(tmp_path: Path, name: str) -> None:
    """zarr-python writes numcodecs.delta with "dtype": "float32": a numpy
    name, not a type string. It reads natively, like "<f4"."""
    path = tmp_path / "delta.zarr"
    data = (np.arange(200, dtype="f4") * 1.5).reshape(20, 10)
    z = zarr.create_array(path, shape=data.shape, chunks=(5, 10), dtype="f4", zarr_format=3,
                          filters=[zarr.codecs.numcodecs.Delta(dtype="f4")])
    z[...] = data
    edit_json(path / "zarr.json", lambda doc: doc["codecs"][0]["configuration"].update(dtype=name))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastchunk.SlowCodecWarning)
        assert_same(fastchunk.open_array(path)[...], data)
