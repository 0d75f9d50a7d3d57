"""Variable-length strings and bytes written by zarr-python (v2 and v3
formats) read with fastchunk.open, compared with numpy; corrupt framing."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import fastchunk

zarr = pytest.importorskip("zarr")
# zarr-python warns that the bytes data type has no v3 specification yet.
pytestmark = pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3")

STRING = np.dtypes.StringDType() if hasattr(np.dtypes, "StringDType") else np.dtype(object)
WORDS = ["", "a", "bé", "日本語", "x" * 300, "tab\tand\nnewline", "\x00nul", "emoji 🌍"]


def _strings(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    picks = rng.integers(0, len(WORDS), size=shape)
    out = np.empty(shape, dtype=object)
    for pos in np.ndindex(*shape):
        out[pos] = WORDS[picks[pos]] + str(pos)
    return out


def _bytes(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for pos in np.ndindex(*shape):
        out[pos] = rng.bytes(int(rng.integers(0, 40)))
    return out


def _write(path: Path, data: np.ndarray, kind: str, fmt: int, chunks: tuple[int, ...],
           **kw: Any) -> Any:
    from zarr.dtype import VariableLengthBytes, VariableLengthUTF8

    dtype = VariableLengthUTF8() if kind == "utf8" else VariableLengthBytes()
    a = zarr.create_array(str(path), shape=data.shape, chunks=chunks, dtype=dtype,
                          zarr_format=fmt, **kw)
    return a


def _check(a: Any, expected: np.ndarray, kind: str) -> None:
    want_dtype = STRING if kind == "utf8" else np.dtype(object)
    assert a.dtype == want_dtype
    full = a[...]
    assert full.dtype == want_dtype
    assert full.shape == expected.shape
    np.testing.assert_array_equal(full.astype(object), expected)
    sels: list[Any] = [
        (slice(None, None, -1),),
        (slice(1, None, 3),),
        ([3, 0, 3, 1],),
        (expected.shape[0] - 1,),
        (np.arange(expected.shape[0]) % 3 == 1,),
    ]
    if expected.ndim > 1:
        sels += [(slice(None), [2, 0, 2]), (1, slice(None, None, -2)), (slice(2, 5), 1)]
    for sel in sels:
        got = a[sel]
        exp = expected[sel]
        if np.ndim(exp) == 0:
            assert got == exp
        else:
            np.testing.assert_array_equal(np.asarray(got).astype(object), exp)
    idx = np.array([4, 1, 1, 0])
    np.testing.assert_array_equal(a.take(idx, axis=0).astype(object), expected.take(idx, 0))
    out = np.empty((len(idx),) + expected.shape[1:], dtype=want_dtype)
    assert a.take(idx, axis=0, out=out) is out
    np.testing.assert_array_equal(out.astype(object), expected.take(idx, 0))
    if expected.ndim > 1:
        np.testing.assert_array_equal(a.take([2, 0], axis=-1).astype(object),
                                      expected.take([2, 0], axis=-1))


@pytest.mark.parametrize("fmt", [2, 3])
@pytest.mark.parametrize("kind", ["utf8", "bytes"])
@pytest.mark.parametrize("compressor", ["default", "none", "blosc", "gzip"])
def test_vlen_roundtrip(tmp_path: Path, rng: np.random.Generator, fmt: int, kind: str,
                        compressor: str) -> None:
    data = (_strings if kind == "utf8" else _bytes)(rng, (11, 7))
    kw: dict[str, Any] = {}
    if compressor == "none":
        kw["compressors"] = None
    elif compressor == "blosc":
        kw["compressors"] = numcodecs.Blosc(cname="zstd") if fmt == 2 else \
            zarr.codecs.BloscCodec(cname="zstd")
    elif compressor == "gzip":
        kw["compressors"] = numcodecs.GZip() if fmt == 2 else zarr.codecs.GzipCodec()
    z = _write(tmp_path / "a.zarr", data, kind, fmt, (4, 3), **kw)
    z[...] = data
    a = fastchunk.open(tmp_path / "a.zarr")
    _check(a, data, kind)
    np.testing.assert_array_equal(a[...].astype(object), np.asarray(z[...]).astype(object))


@pytest.mark.parametrize("fmt", [2, 3])
def test_missing_chunks_read_the_fill_value(tmp_path: Path, rng: np.random.Generator,
                                            fmt: int) -> None:
    data = _strings(rng, (9, 5))
    z = _write(tmp_path / "a.zarr", data, "utf8", fmt, (4, 2), fill_value="fill")
    z[:4] = data[:4]
    expected = data.copy()
    expected[4:] = "fill"
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.fill_value == "fill"
    _check(a, expected, "utf8")
    np.testing.assert_array_equal(a[...].astype(object), np.asarray(z[...]).astype(object))


def test_v2_null_fill_value_reads_empty_strings(tmp_path: Path) -> None:
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(6,), chunks=(2,), dtype=str,
                          zarr_format=2, fill_value=None)
    z[:2] = ["p", "q"]
    assert json.loads((tmp_path / "a.zarr" / ".zarray").read_text())["fill_value"] is None
    a = fastchunk.open(tmp_path / "a.zarr")
    np.testing.assert_array_equal(a[...].astype(object), np.asarray(z[...]).astype(object))


def test_v2_fill_value_0_reads_the_string_0_like_zarr_python(tmp_path: Path) -> None:
    """zarrs' str_v2_fv_0.zarr: a v2 vlen-utf8 array with "fill_value": 0.
    zarr-python reads a missing chunk as '0'; fastchunk read ''."""
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(6,), chunks=(2,), dtype=str,
                          zarr_format=2, fill_value=None)
    z[:2] = ["p", "q"]
    zarray = tmp_path / "a.zarr" / ".zarray"
    doc = json.loads(zarray.read_text())
    doc["fill_value"] = 0
    zarray.write_text(json.dumps(doc))
    reference = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    expected = np.asarray(reference[...]).astype(object)
    assert list(expected) == ["p", "q", "0", "0", "0", "0"]
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.fill_value == "0"
    np.testing.assert_array_equal(a[...].astype(object), expected)


def test_v2_order_f(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _strings(rng, (7, 6))
    z = _write(tmp_path / "a.zarr", data, "utf8", 2, (3, 4), order="F")
    z[...] = data
    assert json.loads((tmp_path / "a.zarr" / ".zarray").read_text())["order"] == "F"
    _check(fastchunk.open(tmp_path / "a.zarr"), data, "utf8")


def test_v3_sharded(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _strings(rng, (12, 6))
    z = _write(tmp_path / "a.zarr", data, "utf8", 3, (2, 3), shards=(6, 6))
    z[:6] = data[:6]
    expected = data.copy()
    expected[6:] = ""
    _check(fastchunk.open(tmp_path / "a.zarr"), expected, "utf8")


def test_group_member_and_zero_d(tmp_path: Path) -> None:
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    labels = g.create_array("labels", shape=(3,), chunks=(2,), dtype=str)
    labels[...] = np.array(["t2m", "u10", "v10"])
    scalar = g.create_array("name", shape=(), dtype=str)
    scalar[...] = "era5"
    grp = fastchunk.open_group(tmp_path / "g.zarr")
    np.testing.assert_array_equal(grp["labels"][...].astype(object), ["t2m", "u10", "v10"])
    assert grp["name"][()] == "era5"


# ---------------------------------------------------------------- corrupt


def _frame(items: list[bytes], count: int | None = None) -> bytes:
    out = struct.pack("<I", len(items) if count is None else count)
    for it in items:
        out += struct.pack("<I", len(it)) + it
    return out


def _raw_store(tmp_path: Path, chunk: bytes, fmt: int = 3, kind: str = "utf8") -> Path:
    """A 1-d array of 4 items in one uncompressed chunk holding `chunk`."""
    path = tmp_path / "raw.zarr"
    path.mkdir()
    if fmt == 3:
        doc = {"zarr_format": 3, "node_type": "array", "shape": [4],
               "data_type": "string" if kind == "utf8" else "bytes",
               "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4]}},
               "chunk_key_encoding": {"name": "default"}, "fill_value": "",
               "codecs": [{"name": "vlen-utf8" if kind == "utf8" else "vlen-bytes"}]}
        (path / "zarr.json").write_text(json.dumps(doc))
        (path / "c").mkdir()
        (path / "c" / "0").write_bytes(chunk)
    else:
        doc = {"zarr_format": 2, "shape": [4], "chunks": [4], "dtype": "|O",
               "compressor": None, "fill_value": None, "order": "C",
               "filters": [{"id": "vlen-utf8" if kind == "utf8" else "vlen-bytes"}]}
        (path / ".zarray").write_text(json.dumps(doc))
        (path / "0").write_bytes(chunk)
    return path


GOOD = [b"ab", b"", b"c\xc3\xa9", b"d"]


@pytest.mark.parametrize("fmt", [2, 3])
def test_raw_framing_reads(tmp_path: Path, fmt: int) -> None:
    a = fastchunk.open(_raw_store(tmp_path, _frame(GOOD), fmt))
    np.testing.assert_array_equal(a[...].astype(object), ["ab", "", "cé", "d"])


@pytest.mark.parametrize(
    ("chunk", "message"),
    [
        (b"\x04\x00", "2 bytes cannot hold 4 items"),
        (_frame(GOOD, count=5), "holds 5 items, expected 4"),
        (_frame(GOOD, count=3), "holds 3 items, expected 4"),
        (_frame(GOOD)[:-1], "past the end"),
        (_frame(GOOD)[:-3], "ends inside the length"),
        (_frame(GOOD) + b"zz", "bytes after the last"),
        (struct.pack("<I", 4) + struct.pack("<I", 2**32 - 1) + b"x" * 20, "claims 4294967295"),
        (struct.pack("<I", 2**31) + b"\0" * 12, "holds 2147483648 items"),
        (_frame([b"ab", b"\xff\xfe", b"", b""]), "not valid UTF-8"),
    ],
)
def test_corrupt_framing_is_a_clear_error(tmp_path: Path, chunk: bytes, message: str) -> None:
    a = fastchunk.open(_raw_store(tmp_path, chunk))
    with pytest.raises(fastchunk.ChunkDecodeError, match=message) as info:
        a[...]
    assert "c/0" in str(info.value)


def test_hostile_count_allocates_nothing(tmp_path: Path) -> None:
    # 2^31 items claimed by a 16-byte chunk of a 4-item array: rejected by the
    # count check; and by parse_vlen's own bound when asked for that many.
    with pytest.raises(fastchunk.ChunkDecodeError, match="cannot hold"):
        fastchunk._core.parse_vlen(struct.pack("<I", 2**31) + b"\0" * 12, 2**31)


def test_bytes_arrays_keep_invalid_utf8(tmp_path: Path) -> None:
    a = fastchunk.open(_raw_store(tmp_path, _frame([b"\xff", b"", b"\x00", b"z"]), 3, "bytes"))
    np.testing.assert_array_equal(a[...], np.array([b"\xff", b"", b"\x00", b"z"], dtype=object))


def test_string_dtype_with_a_numeric_codec_is_rejected(tmp_path: Path) -> None:
    path = _raw_store(tmp_path, _frame(GOOD))
    doc = json.loads((path / "zarr.json").read_text())
    doc["codecs"] = [{"name": "bytes", "configuration": {"endian": "little"}}]
    (path / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(fastchunk.UnsupportedError, match="vlen-utf8 or vlen-bytes"):
        fastchunk.open(path)


def test_decoded_chunk_cache_keeps_item_numbers_valid(tmp_path: Path,
                                                     rng: np.random.Generator) -> None:
    data = _strings(rng, (9, 5))
    z = _write(tmp_path / "a.zarr", data, "utf8", 3, (4, 2))
    z[...] = data
    fastchunk.set_cache_size("16MB")
    try:
        a = fastchunk.open(tmp_path / "a.zarr")
        for sel in [(slice(None),), ([8, 0],), (slice(None), 3), (slice(None),)]:
            np.testing.assert_array_equal(a[sel].astype(object), data[sel])
        assert fastchunk.get_cache_info()["hits"] > 0
        b = fastchunk.open(tmp_path / "a.zarr")  # another array object, same cache entries
        np.testing.assert_array_equal(b[[4, 1]].astype(object), data[[4, 1]])
    finally:
        fastchunk.set_cache_size(0)
        fastchunk.clear_cache()
