"""zarr v2 stores written by zarr-python 3 (zarr_format=2) read like numpy."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest
import zarr

import fastchunk
from tests.common import assert_same, check_reads, edit_json, no_slow_warning_reads, random_data

SHAPE = (13, 17)
CHUNKS = (5, 4)  # edge chunks on both axes

BYTE_ORDER_DTYPES = [
    "i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16",
    "M8[s]", "M8[ms]", "M8[ns]", "m8[s]", "m8[us]", "m8[D]",
]  # fmt: skip
DTYPES = ["|b1", "|i1", "|u1"] + [o + d for d in BYTE_ORDER_DTYPES for o in "<>"]


def write_v2(path: Path, data: np.ndarray, **kwargs: Any) -> zarr.Array:
    kwargs.setdefault("chunks", CHUNKS[: data.ndim])
    z = zarr.create_array(
        str(path), shape=data.shape, dtype=data.dtype, zarr_format=2, **kwargs
    )
    z[...] = data
    return z




@pytest.mark.parametrize("dtype", DTYPES)
def test_dtypes_and_byte_orders(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    data = random_data(rng, SHAPE, dtype)
    write_v2(tmp_path / "a.zarr", data)
    assert json.loads((tmp_path / "a.zarr" / ".zarray").read_text())["dtype"] == dtype
    a = fastchunk.open(tmp_path / "a.zarr")
    assert isinstance(a, fastchunk.Array)
    assert a.zarr_format == 2
    assert a.dtype == np.dtype(dtype).newbyteorder("=")
    assert a.chunks == CHUNKS
    assert a.nbytes == data.nbytes
    no_slow_warning_reads(a, data)


FILLS = [
    ("<f4", 0.0), ("<f4", 1.5), ("<f8", float("nan")), ("<f8", float("inf")),
    ("<f4", float("-inf")), ("<f8", None), (">f8", -2.25), (">f4", float("nan")),
    ("<i2", -7), (">u4", 4000000000), ("<i8", None), ("|b1", True), ("|u1", 255),
    ("<c8", 1 + 2j), (">c16", complex(float("nan"), 1.0)),
    ("<M8[s]", np.datetime64("NaT", "s")), ("<m8[ms]", np.timedelta64(5, "ms")),
]  # fmt: skip


@pytest.mark.parametrize(("dtype", "fill"), FILLS)
def test_fill_values_of_missing_chunks(
    tmp_path: Path, rng: np.random.Generator, dtype: str, fill: Any
) -> None:
    data = random_data(rng, SHAPE, dtype)
    z = zarr.create_array(
        str(tmp_path / "a.zarr"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill,
        zarr_format=2,
    )
    z[3:7, 2:9] = data[3:7, 2:9]  # some chunks written, most missing
    stored = json.loads((tmp_path / "a.zarr" / ".zarray").read_text())["fill_value"]
    if fill is None:
        assert stored is None
    expected = np.full(SHAPE, 0 if fill is None else fill, dtype=dtype)
    expected[3:7, 2:9] = data[3:7, 2:9]
    a = fastchunk.open(tmp_path / "a.zarr")
    check_reads(a, expected)
    fill_read = np.asarray(a.fill_value)
    np.testing.assert_array_equal(fill_read, np.asarray(0 if fill is None else fill, dtype=dtype))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", None, 3, -1.0])
def test_fill_value_json_literals(tmp_path: Path, literal: Any) -> None:
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=(6,), chunks=(4,), dtype="<f8", zarr_format=2)
    z[:4] = np.arange(4.0)
    edit_json(path / ".zarray", lambda d: d.update(fill_value=literal))
    value = {"NaN": np.nan, "Infinity": np.inf, "-Infinity": -np.inf, None: 0.0}.get(
        literal, literal
    )
    expected = np.array([0, 1, 2, 3, value, value], dtype="f8")
    assert_same(fastchunk.open(path)[:], expected)


BLOSC = [
    numcodecs.Blosc(cname=cname, clevel=5, shuffle=shuffle)
    for cname in ("blosclz", "lz4", "lz4hc", "zlib", "zstd")
    for shuffle in (numcodecs.Blosc.NOSHUFFLE, numcodecs.Blosc.SHUFFLE, numcodecs.Blosc.BITSHUFFLE)
]
NATIVE_COMPRESSORS = BLOSC + [
    numcodecs.Zstd(level=3),
    numcodecs.GZip(level=5),
    numcodecs.Zlib(level=1),
    numcodecs.LZ4(acceleration=1),
    None,
]


@pytest.mark.parametrize("compressor", NATIVE_COMPRESSORS, ids=repr)
@pytest.mark.parametrize("dtype", ["<f4", ">i2"])
def test_native_compressors(
    tmp_path: Path, rng: np.random.Generator, compressor: Any, dtype: str
) -> None:
    # Smooth values compress; random low bits keep the shuffles honest.
    data = (np.cumsum(rng.integers(-3, 4, size=SHAPE), axis=1) * 3).astype(dtype)
    write_v2(tmp_path / "a.zarr", data, compressors=compressor)
    doc = json.loads((tmp_path / "a.zarr" / ".zarray").read_text())
    assert (doc["compressor"] or {}).get("id") == (compressor.codec_id if compressor else None)
    no_slow_warning_reads(fastchunk.open(tmp_path / "a.zarr"), data)


@pytest.mark.parametrize(
    "compressor",
    [numcodecs.Adler32(), numcodecs.LZMA(format=3, filters=[{"id": 33, "preset": 1}])],
    ids=repr,
)
def test_fallback_compressors_warn_once(
    tmp_path: Path, rng: np.random.Generator, compressor: Any, fresh_slow_warnings: None
) -> None:
    data = random_data(rng, SHAPE, "<f8")
    write_v2(tmp_path / "a.zarr", data, compressors=compressor)
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning) as record:
        check_reads(a, data)
        check_reads(a, data)
    slow = [w for w in record if issubclass(w.category, fastchunk.SlowCodecWarning)]
    assert len(slow) == 1
    assert compressor.codec_id in str(slow[0].message)


# Chains with a filter the core does not implement; delta and shuffle are
# native but decode through numcodecs with the rest of such a chain.
FILTERS = [
    [numcodecs.Delta(dtype="<f8"), numcodecs.FixedScaleOffset(offset=10, scale=100,
                                                              dtype="<f8", astype="<i4")],
    [numcodecs.FixedScaleOffset(offset=0, scale=10, dtype="<f8", astype="<i2"),
     numcodecs.Delta(dtype="<f8")],
    [numcodecs.Quantize(digits=3, dtype="<f8")],
    [numcodecs.BitRound(keepbits=7)],
    [numcodecs.Shuffle(elementsize=8), numcodecs.Fletcher32()],
    [numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8")],
    [numcodecs.Delta(dtype="<f2")],  # numpy sums half floats in float32: numcodecs decodes
]  # fmt: skip
NATIVE_FILTERS = {"delta", "shuffle"}


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "+".join(c.codec_id for c in f))
def test_filters_fallback_in_reverse_order(
    tmp_path: Path, rng: np.random.Generator, filters: list[Any], fresh_slow_warnings: None
) -> None:
    dtype = filters[0].dtype if hasattr(filters[0], "dtype") else "<f8"
    data = random_data(rng, SHAPE, dtype)
    if data.dtype.kind == "f":
        data = np.round(data, 1)
    else:
        data //= 1000  # keep the cumulative sums of Delta in range
    z = write_v2(tmp_path / "a.zarr", data, filters=filters, compressors=numcodecs.Zstd())
    expected = z[...]  # zarr-python's own decode (the lossy filters change values)
    a = fastchunk.open(tmp_path / "a.zarr")
    with pytest.warns(fastchunk.SlowCodecWarning) as record:
        check_reads(a, expected)
        check_reads(a, expected)
    slow = [w for w in record if issubclass(w.category, fastchunk.SlowCodecWarning)]
    assert len(slow) == 1
    ids = [f.codec_id for f in filters]
    for codec_id in ids:
        if codec_id not in NATIVE_FILTERS or set(ids) <= NATIVE_FILTERS:
            assert codec_id in str(slow[0].message)
    assert "zstd" not in str(slow[0].message)
    if ids == ["shuffle", "fletcher32"]:  # lossless
        assert_same(a[...], data)


@pytest.mark.parametrize("separator", [".", "/"])
def test_dimension_separator(tmp_path: Path, rng: np.random.Generator, separator: str) -> None:
    data = random_data(rng, (7, 6, 5), "<i4")
    write_v2(tmp_path / "a.zarr", data, chunks=(3, 4, 2),
             chunk_key_encoding={"name": "v2", "separator": separator})
    key = "1" + separator + "1" + separator + "2"
    assert (tmp_path / "a.zarr" / key).is_file()
    check_reads(fastchunk.open(tmp_path / "a.zarr"), data)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_nested_store_without_separator_key(
    tmp_path: Path, rng: np.random.Generator, ndim: int
) -> None:
    """Stores from before `dimension_separator` existed may be nested with no key."""
    shape = (9, 7, 5)[:ndim]
    data = random_data(rng, shape, "<f4")
    path = tmp_path / "a.zarr"
    write_v2(path, data, chunks=(4, 3, 2)[:ndim], fill_value=-1.0,
             chunk_key_encoding={"name": "v2", "separator": "/"})
    edit_json(path / ".zarray", lambda d: d.pop("dimension_separator"))
    assert "dimension_separator" not in json.loads((path / ".zarray").read_text())
    check_reads(fastchunk.open(path), data)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(13,), (13, 17), (6, 7, 5)])
def test_order(tmp_path: Path, rng: np.random.Generator, order: str, shape: tuple) -> None:
    data = random_data(rng, shape, ">i8")
    chunks = (5, 4, 3)[: len(shape)]
    write_v2(tmp_path / "a.zarr", data, chunks=chunks, order=order)
    assert json.loads((tmp_path / "a.zarr" / ".zarray").read_text())["order"] == order
    check_reads(fastchunk.open(tmp_path / "a.zarr"), data)


def test_order_f_with_filters(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, SHAPE, "<i4") // 1000
    write_v2(tmp_path / "a.zarr", data, order="F", filters=[numcodecs.Delta(dtype="<i4")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        check_reads(fastchunk.open(tmp_path / "a.zarr"), data)


def test_consolidated_metadata(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "g.zarr"
    root = zarr.open_group(str(path), mode="w", zarr_format=2, attributes={"title": "t"})
    x = random_data(rng, (10, 4), "<f8")
    y = random_data(rng, (5,), ">i2")
    root.create_array("x", shape=x.shape, chunks=(3, 4), dtype=x.dtype,
                      attributes={"units": "K"})[...] = x
    root.create_group("sub").create_array("y", shape=y.shape, chunks=(2,), dtype=y.dtype)[...] = y
    zarr.consolidate_metadata(str(path))
    assert (path / ".zmetadata").is_file()
    # Only the consolidated document is left: the reader must use it.
    for name in (".zarray", ".zattrs"):
        for doc in path.rglob(name):
            doc.unlink()
    (path / ".zgroup").unlink()
    (path / "sub" / ".zgroup").unlink()
    g = fastchunk.open(path)
    assert isinstance(g, fastchunk.Group)
    assert g.attrs == {"title": "t"}
    assert g.keys() == ["sub", "x"]
    assert g["x"].attrs == {"units": "K"}
    check_reads(g["x"], x)
    check_reads(fastchunk.open(path, path="sub/y"), y)
    assert sorted(name for name, _ in g.walk_arrays()) == ["sub/y", "x"]


def test_missing_chunks_and_edges(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, SHAPE, "<f4")
    path = tmp_path / "a.zarr"
    write_v2(path, data, fill_value=np.nan)
    for key in ("0.0", "2.4", "1.2"):  # an edge chunk among them
        (path / key).unlink()
    expected = data.copy()
    expected[0:5, 0:4] = np.nan
    expected[10:13, 16:17] = np.nan
    expected[5:10, 8:12] = np.nan
    check_reads(fastchunk.open(path), expected)


def test_empty_store_reads_fill(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path / "a.zarr"), shape=SHAPE, chunks=CHUNKS, dtype="<i2",
                      fill_value=42, zarr_format=2)
    check_reads(fastchunk.open(tmp_path / "a.zarr"), np.full(SHAPE, 42, dtype="i2"))


@pytest.mark.parametrize("shape", [(0,), (0, 5), (4, 0, 3)])
def test_zero_size(tmp_path: Path, shape: tuple) -> None:
    data = np.zeros(shape, dtype="<f8")
    write_v2(tmp_path / "a.zarr", data, chunks=(2,) * len(shape))
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.shape == shape and a.nbytes == 0
    assert_same(a[...], data)
    assert_same(np.asarray(a), data)


@pytest.mark.parametrize("dtype", ["<f8", ">i4", "|b1"])
def test_zero_dim(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    data = random_data(rng, (), dtype)
    if not data:
        data = np.ones((), dtype=dtype)  # a fill-valued chunk would not be written
    path = tmp_path / "a.zarr"
    z = zarr.create_array(str(path), shape=(), dtype=dtype, zarr_format=2)
    z[()] = data
    assert (path / "0").is_file()
    a = fastchunk.open(path)
    assert a.shape == () and a.ndim == 0
    assert a[()] == data[()]
    assert_same(a[...], data)
    assert_same(np.asarray(a), data)


def test_zero_dim_missing_chunk(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path / "a.zarr"), shape=(), dtype="<f4", fill_value=2.5,
                      zarr_format=2)
    assert fastchunk.open(tmp_path / "a.zarr")[()] == np.float32(2.5)


def test_attrs(tmp_path: Path) -> None:
    z = zarr.create_array(str(tmp_path / "a.zarr"), shape=(3,), dtype="<i4", zarr_format=2,
                          attributes={"long_name": "x", "n": [1, 2]})
    z[:] = [1, 2, 3]
    a = fastchunk.open(tmp_path / "a.zarr")
    assert a.attrs == {"long_name": "x", "n": [1, 2]}


def test_variable_length_strings_read(tmp_path: Path) -> None:
    # More in test_strings.py.
    z = zarr.create_array(str(tmp_path / "s.zarr"), shape=(4,), chunks=(2,), dtype=str,
                          zarr_format=2)
    z[:] = ["a", "bb", "ccc", "d"]
    assert fastchunk.open(tmp_path / "s.zarr")[::-1].tolist() == ["d", "ccc", "bb", "a"]


def test_object_arrays_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "o.zarr"
    z = zarr.create_array(str(path), shape=(4,), chunks=(2,), dtype="<i4", zarr_format=2)
    z[:] = 1
    edit_json(path / ".zarray", lambda d: d.update(dtype="|O", filters=[{"id": "pickle"}]))
    with pytest.raises(fastchunk.UnsupportedError, match=r"\|O"):
        fastchunk.open(path)


def test_store_copied_elsewhere_still_reads(tmp_path: Path, rng: np.random.Generator) -> None:
    """Nothing absolute is kept in a store: a copied store reads the same."""
    data = random_data(rng, SHAPE, "<u2")
    write_v2(tmp_path / "a.zarr", data)
    shutil.copytree(tmp_path / "a.zarr", tmp_path / "b.zarr")
    shutil.rmtree(tmp_path / "a.zarr")
    check_reads(fastchunk.open(str(tmp_path / "b.zarr")), data)


@pytest.mark.parametrize("compressor", BLOSC, ids=repr)
def test_blosc_many_blocks_partial_reads(
    tmp_path: Path, rng: np.random.Generator, compressor: Any
) -> None:
    """Chunks of many small blosc blocks, read whole and in pieces that cut
    through blocks (the reader may decode only the blocks it needs)."""
    codec = numcodecs.Blosc(cname=compressor.cname, clevel=5, shuffle=compressor.shuffle,
                            blocksize=256)
    data = (np.cumsum(rng.integers(-3, 4, size=(24, 50)), axis=1)).astype("<i4")
    path = tmp_path / "a.zarr"
    write_v2(path, data, chunks=(12, 50), compressors=codec)
    raw = (path / "0.0").read_bytes()
    assert int.from_bytes(raw[8:12], "little") == 256  # blocksize in the header
    a = fastchunk.open(path)
    no_slow_warning_reads(a, data)
    for key in (np.s_[3, 7:9], np.s_[11, :], np.s_[5:7, 40:], np.s_[::5, 33], np.s_[13, -1]):
        assert_same(a[key], data[key])


def zstd_raw_frame(payload: bytes, block: int = 1000) -> bytes:
    """A zstd frame of raw blocks with no content size in its header, as a
    streaming compressor writes it."""
    frame = (0xFD2FB528).to_bytes(4, "little") + bytes([0x00, 0x58])  # no size; 2 MiB window
    pieces = [payload[i : i + block] for i in range(0, len(payload), block)] or [b""]
    for i, piece in enumerate(pieces):
        last = int(i == len(pieces) - 1)
        frame += (last | (len(piece) << 3)).to_bytes(3, "little") + piece
    return frame


@pytest.mark.parametrize("framing", ["no-content-size", "concatenated", "mixed"])
def test_zstd_frame_variants(tmp_path: Path, rng: np.random.Generator, framing: str) -> None:
    data = random_data(rng, SHAPE, "<f8")
    path = tmp_path / "a.zarr"
    write_v2(path, data, compressors=numcodecs.Zstd(level=1))
    codec = numcodecs.Zstd(level=1)
    for chunk in path.iterdir():
        if chunk.name.startswith("."):
            continue
        payload = bytes(codec.decode(chunk.read_bytes()))
        half = len(payload) // 2
        if framing == "no-content-size":
            blob = zstd_raw_frame(payload)
        elif framing == "concatenated":
            blob = codec.encode(payload[:half]) + codec.encode(payload[half:])
        else:
            blob = zstd_raw_frame(payload[:half]) + codec.encode(payload[half:])
        assert bytes(codec.decode(blob)) == payload  # numcodecs agrees the framing is valid
        chunk.write_bytes(blob)
    check_reads(fastchunk.open(path), data)
