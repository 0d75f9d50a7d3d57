"""Hostile stores are rejected before work: headers that lie about sizes,
shard indexes pointing outside the shard, shapes and chunk grids that overflow
64 bits, zero or negative sizes, unknown codecs and dtypes, truncated chunks of
every codec. Each gives the documented exception naming the store, the key and
the reason; nothing crashes, hangs, or allocates beyond what the request needs
(checked in a child process whose address space is capped)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
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

# ------------------------------------------------------------------ helpers


def v2_array(path: Path, compressor: Any = None, shape=(6, 8), chunks=(3, 4),
             dtype: str = "<f8") -> tuple[Path, np.ndarray]:
    data = (np.arange(np.prod(shape)).reshape(shape) * 1.5).astype(dtype)
    z = zarr.create_array(str(path), shape=shape, chunks=chunks, dtype=dtype, zarr_format=2,
                          compressors=compressor, fill_value=0)
    z[...] = data
    return path, data


def v3_array(path: Path, shape=(6, 8), chunks=(3, 4), dtype: str = "float64",
             **kw: Any) -> tuple[Path, np.ndarray]:
    data = (np.arange(np.prod(shape)).reshape(shape) * 1.5).astype(dtype)
    z = zarr.create_array(str(path), shape=shape, chunks=chunks, dtype=dtype, fill_value=0,
                          **kw)
    z[...] = data
    return path, data


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def with_crc(blob: bytes) -> bytes:
    return blob + crc32c.crc32c(blob).to_bytes(4, "little")


def assert_names(message: str, store: Path, *parts: str) -> None:
    assert str(store) in message, message
    for p in parts:
        assert p in message, (p, message)


def expect_chunk_error(store: Path, key: str) -> str:
    """Reading the whole array raises ChunkDecodeError naming store and key,
    with a reason after the key; the array stays usable for other chunks."""
    a = fastchunk.open(store)
    with pytest.raises(fastchunk.ChunkDecodeError) as info:
        a[...]
    message = str(info.value)
    assert_names(message, store, f"'{key}'")
    reason = message.split(f"'{key}'", 1)[1].strip(" :")
    assert len(reason) > 5, message
    return message


def expect_metadata_error(store: Path, cls: type[Exception], *parts: str) -> str:
    with pytest.raises(cls) as info:
        fastchunk.open(store)
    message = str(info.value)
    assert_names(message, store, *parts)
    return message


# A child process reads each store with its address space capped a little
# above what it uses after opening: a reader that allocated what a hostile
# header claims would get MemoryError there instead of ChunkDecodeError.
_CAPPED_READER = textwrap.dedent(
    """
    import json, os, resource, sys
    import psutil
    import fastchunk

    headroom = int(sys.argv[1])
    results = []
    good = fastchunk.open(sys.argv[2])
    good[...]  # thread pool and buffers up
    arrays = [fastchunk.open(p) for p in sys.argv[3:]]

    def peak_rss():  # VmHWM: this process's own peak (ru_maxrss carries the parent's)
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("VmHWM:"))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # restart the peak from here
    rss0 = psutil.Process().memory_info().rss
    vms = psutil.Process().memory_info().vms
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # ASan maps terabytes of shadow
        resource.setrlimit(resource.RLIMIT_AS, (vms + headroom, vms + headroom))
    for a in arrays:
        try:
            a[tuple(slice(0, min(c, 8)) for c in a.chunks)]  # first chunk, 8 wide at most
            results.append(["read", ""])
        except BaseException as e:
            results.append([type(e).__name__, str(e)])
    print(json.dumps({"results": results, "rss0": rss0, "peak": peak_rss()}))
    """
)
HEADROOM = 768 << 20


def read_capped(good: Path, stores: list[Path]) -> tuple[list[tuple[str, str]], int]:
    """(exception name or 'read', message) per store, and the peak RSS growth
    in bytes beyond the child's RSS after warming up on the valid store `good`."""
    proc = subprocess.run(
        [sys.executable, "-c", _CAPPED_READER, str(HEADROOM), str(good), *map(str, stores)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[:6000]  # a sanitizer report starts there
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return [tuple(r) for r in out["results"]], out["peak"] - out["rss0"]


def zstd_frame_without_size(frame: bytes) -> bytes:
    """The zstd frame with its content size left out of the header, as
    streaming encoders write it (window 2^27, the decoder's default limit)."""
    fhd = frame[4]
    fcs_flag, single, dict_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    fcs_len = {0: 1 if single else 0, 1: 2, 2: 4, 3: 8}[fcs_flag]
    header_len = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag] + fcs_len
    return frame[:4] + bytes([fhd & 0x04, (27 - 10) << 3]) + frame[header_len:]


# ------------------------------------------------------------------ size lies


def test_headers_claiming_huge_sizes_are_rejected_without_allocating(tmp_path: Path) -> None:
    """Every chunk below claims (in its own header) far more than the
    metadata's chunk size; each read must fail cleanly, in bounded memory."""
    stores: dict[str, tuple[Path, str]] = {}

    def v2_case(name: str, compressor: Any, rewrite: Callable[[bytes], bytes]) -> None:
        path, _ = v2_array(tmp_path / f"{name}.zarr", compressor)
        chunk = path / "0.0"
        chunk.write_bytes(rewrite(chunk.read_bytes()))
        stores[name] = (path, "0.0")

    def blosc_nbytes(raw: bytes) -> bytes:
        b = bytearray(raw)
        b[4:8] = (2**31 - 1).to_bytes(4, "little")  # decoded size
        return bytes(b)

    def blosc_cbytes(raw: bytes) -> bytes:
        b = bytearray(raw)
        b[12:16] = (2**31 - 1).to_bytes(4, "little")  # frame size
        return bytes(b)

    def lz4_size(raw: bytes) -> bytes:
        return (2**32 - 1).to_bytes(4, "little") + raw[4:]

    bomb_part = numcodecs.Zstd(level=1).encode(np.zeros(64 << 20, "u1"))

    def zstd_bomb(raw: bytes) -> bytes:
        return bomb_part * 16  # 1 GiB announced by 16 concatenated frames

    def zstd_bomb_unannounced(raw: bytes) -> bytes:
        return zstd_frame_without_size(bomb_part) * 16  # 1 GiB, nothing announced

    def gzip_isize(raw: bytes) -> bytes:
        return raw[:-4] + (2**32 - 1).to_bytes(4, "little")

    v2_case("blosc-nbytes", numcodecs.Blosc(), blosc_nbytes)
    v2_case("blosc-cbytes", numcodecs.Blosc(), blosc_cbytes)
    v2_case("lz4-size", numcodecs.LZ4(), lz4_size)
    v2_case("zstd-bomb", numcodecs.Zstd(), zstd_bomb)
    v2_case("zstd-bomb-unannounced", numcodecs.Zstd(), zstd_bomb_unannounced)
    v2_case("gzip-isize", numcodecs.GZip(), gzip_isize)
    v2_case("raw-long", None, lambda raw: raw * 1000)

    # Metadata claiming a 32 GiB chunk over a small real chunk: the chunk's own
    # header disagrees, so nothing is allocated for the claim.
    claims = {"claim-zstd": numcodecs.Zstd(), "claim-blosc": numcodecs.Blosc(),
              "claim-raw": None, "claim-lz4": numcodecs.LZ4(),
              # These announce nothing usable: only the format's best ratio bounds them
              # (found by tests/fuzz/fuzz_metadata.py and fuzz_read_selection).
              "claim-zlib": numcodecs.Zlib(), "claim-gzip": numcodecs.GZip()}
    for name, comp in claims.items():
        path, _ = v2_array(tmp_path / f"{name}.zarr", comp)
        edit(path / ".zarray", lambda d: d.update(chunks=[4, 2**31], shape=[6, 2**31]))
        stores[name] = (path, "0.0")

    # A two-codec chain whose inner stream claims 1 GiB (v3 numcodecs names).
    path, _ = v3_array(tmp_path / "chain.zarr",
                       compressors=[zc.GzipCodec(), zc.ZstdCodec()])
    chunk = path / "c" / "0" / "0"
    chunk.write_bytes(numcodecs.Zstd().encode(bomb_part))
    stores["chain-intermediate"] = (path, "c/0/0")

    names = list(stores)
    good, _ = v2_array(tmp_path / "good.zarr", numcodecs.Blosc())
    results, growth = read_capped(good, [stores[n][0] for n in names])
    for name, (kind, message) in zip(names, results, strict=True):
        path, key = stores[name]
        assert kind == "ChunkDecodeError", (name, kind, message)
        assert_names(message, path, f"'{key}'")
    assert growth < 64 << 20, f"peak RSS grew by {growth >> 20} MiB"


def test_shard_index_pointing_outside_the_shard(tmp_path: Path) -> None:
    for location in ("end", "start"):
        codec = zc.ShardingCodec(chunk_shape=(2, 2), codecs=[zc.BytesCodec(), zc.ZstdCodec()],
                                 index_location=location)
        for case, entry in {
            "offset-past-end": lambda size: (size + 100, 8),
            "length-past-end": lambda size: (0, size + 1),
            "huge-length": lambda size: (0, 2**63),
            "wrapping": lambda size: (2**64 - 8, 16),
            "offset-at-end": lambda size: (size, 1),
        }.items():
            path, data = v3_array(tmp_path / f"{location}-{case}.zarr", shape=(8, 8),
                                  chunks=(4, 4), dtype="float32", serializer=codec,
                                  compressors=None)
            shard = path / "c" / "1" / "1"
            raw = bytearray(shard.read_bytes())
            at = 0 if location == "start" else len(raw) - 68
            entries = np.frombuffer(bytes(raw[at : at + 64]), "<u8").copy()
            entries[2], entries[3] = entry(len(raw))
            raw[at : at + 68] = with_crc(entries.tobytes())
            shard.write_bytes(bytes(raw))
            message = expect_chunk_error(path, "c/1/1")
            assert "outside" in message or "index" in message, message
            a = fastchunk.open(path)
            np.testing.assert_array_equal(a[:4, :], data[:4, :])  # other shards still read


def test_shard_shorter_than_its_index(tmp_path: Path) -> None:
    codec = zc.ShardingCodec(chunk_shape=(2, 2), codecs=[zc.BytesCodec()])
    path, _ = v3_array(tmp_path / "a.zarr", shape=(4, 4), chunks=(4, 4), dtype="int16",
                       serializer=codec, compressors=None)
    for size in (0, 1, 67):
        (path / "c" / "0" / "0").write_bytes(b"\x01" * size)
        expect_chunk_error(path, "c/0/0")


# ------------------------------------------------------------------ metadata


def _set(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d.update(fields)


V2_OVERFLOWS = {
    "shape-product": _set(shape=[2**62, 2**62], chunks=[1, 1]),
    "chunk-product": _set(shape=[10, 10], chunks=[2**32, 2**32]),
    "chunk-times-itemsize": _set(shape=[10], chunks=[2**61]),
    "shape-beyond-int64": _set(shape=[2**64, 1]),
    "chunk-beyond-int64": _set(chunks=[2**63, 1]),
}
V2_NONPOSITIVE = {
    "zero-chunk": _set(chunks=[0, 4]),
    "negative-chunk": _set(chunks=[-3, 4]),
    "negative-shape": _set(shape=[-6, 8]),
    "float-chunk": _set(chunks=[3.5, 4]),
    "bool-chunk": _set(chunks=[True, 4]),
    "rank-mismatch": _set(chunks=[3]),
}


@pytest.mark.parametrize("change", list(V2_OVERFLOWS.values()) + list(V2_NONPOSITIVE.values()),
                         ids=list(V2_OVERFLOWS) + list(V2_NONPOSITIVE))
def test_v2_sizes_that_overflow_or_are_not_positive(tmp_path: Path, change: Callable) -> None:
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.Zstd(), shape=(6, 8), chunks=(3, 4))
    edit(path / ".zarray", change)
    expect_metadata_error(path, fastchunk.FastchunkError)


def _grid(chunk_shape: Any) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["chunk_grid"]["configuration"].update(chunk_shape=chunk_shape)


def _inner(chunk_shape: Any) -> Callable[[dict[str, Any]], None]:
    def change(d: dict[str, Any]) -> None:
        d["codecs"][0]["configuration"]["chunk_shape"] = chunk_shape
    return change


V3_BAD_SIZES = {
    "shape-product": lambda d: d.update(shape=[2**62, 2**62]),
    "grid-product": _grid([2**32, 2**32]),
    "grid-times-itemsize": _grid([2**61, 1]),
    "grid-zero": _grid([0, 4]),
    "grid-negative": _grid([-4, 4]),
    "shape-negative": lambda d: d.update(shape=[-6, 8]),
    "shape-beyond-int64": lambda d: d.update(shape=[2**70, 8]),
}


@pytest.mark.parametrize("change", list(V3_BAD_SIZES.values()), ids=list(V3_BAD_SIZES))
def test_v3_sizes_that_overflow_or_are_not_positive(tmp_path: Path, change: Callable) -> None:
    path, _ = v3_array(tmp_path / "a.zarr")
    edit(path / "zarr.json", change)
    expect_metadata_error(path, fastchunk.FastchunkError)


SHARD_BAD_SIZES = {
    "inner-zero": _inner([0, 2]),
    "inner-negative": _inner([-2, 2]),
    "inner-not-dividing": _inner([3, 2]),
    "chunks-per-shard-overflow": lambda d: (
        _grid([2**40, 2**40])(d), _inner([1, 1])(d), d.update(shape=[2**40, 2**40])),
}


@pytest.mark.parametrize("change", list(SHARD_BAD_SIZES.values()), ids=list(SHARD_BAD_SIZES))
def test_shard_grids_that_overflow_or_are_not_positive(tmp_path: Path, change: Callable) -> None:
    path, _ = v3_array(tmp_path / "a.zarr", shape=(8, 8), chunks=(4, 4), shards=(8, 8))
    edit(path / "zarr.json", change)
    expect_metadata_error(path, fastchunk.FastchunkError)


UNKNOWN_V2 = {
    "compressor": (_set(compressor={"id": "no-such-codec"}), "no-such-codec"),
    "filter": (_set(filters=[{"id": "no-such-filter"}]), "no-such-filter"),
    "dtype": (_set(dtype="<q9"), "<q9"),
    "object-dtype": (_set(dtype="|O"), "|O"),
    "structured-dtype": (_set(dtype=[["a", "<f4"]]), "structured"),
}


@pytest.mark.parametrize("change,named", list(UNKNOWN_V2.values()), ids=list(UNKNOWN_V2))
def test_v2_unknown_codecs_and_dtypes(tmp_path: Path, change: Callable, named: str) -> None:
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.Zstd())
    edit(path / ".zarray", change)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        with pytest.raises((fastchunk.UnsupportedError, fastchunk.MetadataError)) as info:
            a = fastchunk.open(path)
            a[...]
    assert named in str(info.value), str(info.value)
    assert str(path) in str(info.value), str(info.value)


UNKNOWN_V3 = {
    "codec": (lambda d: d["codecs"].append({"name": "no-such-codec"}), "no-such-codec"),
    "array-to-bytes": (lambda d: d["codecs"].__setitem__(0, {"name": "packbits"}), "packbits"),
    "data-type": (lambda d: d.update(data_type="float128"), "float128"),
    "data-type-object": (lambda d: d.update(data_type={"name": "quaternion"}), "quaternion"),
    "chunk-grid": (lambda d: d["chunk_grid"].update(name="rectilinear"), "rectilinear"),
    "key-encoding": (lambda d: d["chunk_key_encoding"].update(name="hashed"), "hashed"),
}


@pytest.mark.parametrize("change,named", list(UNKNOWN_V3.values()), ids=list(UNKNOWN_V3))
def test_v3_unknown_codecs_and_dtypes(tmp_path: Path, change: Callable, named: str) -> None:
    path, _ = v3_array(tmp_path / "a.zarr")
    edit(path / "zarr.json", change)
    expect_metadata_error(path, (fastchunk.UnsupportedError, fastchunk.MetadataError), named)


# Documents the metadata fuzzer (tests/fuzz/fuzz_metadata.py) found raising
# TypeError, ValueError or AttributeError instead of a fastchunk error.
FUZZ_FOUND_V3 = {
    "separator-list": lambda d: d["chunk_key_encoding"].update(
        configuration={"separator": [None]}),
    "separator-int": lambda d: d["chunk_key_encoding"].update(configuration={"separator": -1}),
    "transpose-order-none": lambda d: d["codecs"].insert(
        0, {"name": "transpose", "configuration": {"order": [1, None]}}),
    "transpose-order-str": lambda d: d["codecs"].insert(
        0, {"name": "transpose", "configuration": {"order": [1, "gzip"]}}),
    "datetime-unit": lambda d: d.update(
        data_type={"name": "numpy.datetime64", "configuration": {"unit": "<f4",
                                                                 "scale_factor": 1}}),
    "datetime-unit-dict": lambda d: d.update(
        data_type={"name": "numpy.datetime64", "configuration": {"unit": {"a": 1}}}),
    "datetime-scale-str": lambda d: d.update(
        data_type={"name": "numpy.timedelta64", "configuration": {"unit": "s",
                                                                  "scale_factor": "/"}}),
    "datetime-config-list": lambda d: d.update(
        data_type={"name": "numpy.datetime64", "configuration": [1]}),
}


@pytest.mark.parametrize("change", list(FUZZ_FOUND_V3.values()), ids=list(FUZZ_FOUND_V3))
def test_fuzz_found_v3_documents(tmp_path: Path, change: Callable) -> None:
    path, _ = v3_array(tmp_path / "a.zarr")
    edit(path / "zarr.json", change)
    expect_metadata_error(path, fastchunk.FastchunkError)


@pytest.mark.parametrize("dtype", ["<,4", "<f4,", "<f4,<i4", "[('a', '<f4')]", "f4\x00"])
def test_fuzz_found_v2_dtype_strings(tmp_path: Path, dtype: str) -> None:
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.Zstd())
    edit(path / ".zarray", _set(dtype=dtype))
    expect_metadata_error(path, fastchunk.FastchunkError)


def test_fuzz_found_v2_compressor_id_of_the_wrong_type(tmp_path: Path) -> None:
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.LZ4())
    for bad in ([-1], {"a": 1}, None, 5):
        edit(path / ".zarray", _set(compressor={"id": bad}))
        expect_metadata_error(path, fastchunk.FastchunkError)
        edit(path / ".zarray", _set(compressor=None, filters=[{"id": bad}]))
        expect_metadata_error(path, fastchunk.FastchunkError)


def test_fuzz_found_consolidated_entry_not_an_object(tmp_path: Path) -> None:
    g = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    g.create_array("y", shape=(4,), chunks=(2,), dtype="u8")[...] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.consolidate_metadata(str(tmp_path / "g.zarr"))
    root = tmp_path / "g.zarr" / "zarr.json"
    edit(root, lambda d: d["consolidated_metadata"]["metadata"].update(y="end"))
    with pytest.raises(fastchunk.MetadataError) as info:
        fastchunk.open(tmp_path / "g.zarr", path="y")
    assert str(tmp_path / "g.zarr") in str(info.value)


def test_take_allocates_only_what_it_returns(tmp_path: Path) -> None:
    """take() on an axis of 2^40 rows reads 2 rows without building an
    index vector over the whole axis (found by the metadata fuzzer)."""
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.Zstd(), shape=(6, 8), chunks=(3, 4))
    edit(path / ".zarray", _set(shape=[2**40, 8]))
    a = fastchunk.open(path)
    rows = a.take([1, 2**40 - 1], axis=0)
    assert rows.shape == (2, 8)
    np.testing.assert_array_equal(rows[0], np.arange(8, 16) * 1.5)
    np.testing.assert_array_equal(rows[1], 0)  # missing chunk: fill value


# ------------------------------------------------------------------ truncation

V2_COMPRESSORS = {
    "blosc-lz4": numcodecs.Blosc(cname="lz4", shuffle=1),
    "blosc-zstd": numcodecs.Blosc(cname="zstd", shuffle=2),
    "zstd": numcodecs.Zstd(),
    "gzip": numcodecs.GZip(),
    "zlib": numcodecs.Zlib(),
    "lz4": numcodecs.LZ4(),
    "raw": None,
}
CUTS = (0, 1, 3, 4, 15, 16, -1)


@pytest.mark.parametrize("compressor", list(V2_COMPRESSORS.values()), ids=list(V2_COMPRESSORS))
def test_truncated_v2_chunks(tmp_path: Path, compressor: Any) -> None:
    path, data = v2_array(tmp_path / "a.zarr", compressor)
    chunk = path / "1.1"
    whole = chunk.read_bytes()
    a = fastchunk.open(path)
    for cut in CUTS:
        chunk.write_bytes(whole[:cut])
        with pytest.raises(fastchunk.ChunkDecodeError) as info:
            a[...]
        assert_names(str(info.value), path, "'1.1'")
        np.testing.assert_array_equal(a[:3, :], data[:3, :])
    chunk.write_bytes(whole)
    np.testing.assert_array_equal(a[...], data)


V3_CHAINS = {
    "crc32c": {"compressors": [zc.Crc32cCodec()]},
    "zstd-crc32c": {"compressors": [zc.ZstdCodec(), zc.Crc32cCodec()]},
    "gzip": {"compressors": [zc.GzipCodec()]},
    "blosc": {"compressors": [zc.BloscCodec(cname="lz4")]},
    "sharded": {"shards": (6, 8)},
}


@pytest.mark.parametrize("chain", list(V3_CHAINS.values()), ids=list(V3_CHAINS))
def test_truncated_v3_chunks(tmp_path: Path, chain: dict) -> None:
    path, data = v3_array(tmp_path / "a.zarr", shape=(12, 8), **chain)
    key = "c/1/0" if "shards" in chain else "c/3/0"  # rows 6-11 or 9-11
    chunk = path / key
    whole = chunk.read_bytes()
    a = fastchunk.open(path)
    for cut in CUTS:
        chunk.write_bytes(whole[:cut])
        with pytest.raises(fastchunk.ChunkDecodeError) as info:
            a[...]
        assert_names(str(info.value), path, f"'{key}'")
        np.testing.assert_array_equal(a[:6, :], data[:6, :])
    chunk.write_bytes(whole)
    np.testing.assert_array_equal(a[...], data)


# ------------------------------------------------------------------ cache


def test_cache_never_serves_a_chunk_of_another_size(tmp_path: Path) -> None:
    """A store rewritten in place with larger chunks under the same keys, then
    reopened, must not be served the old (smaller) cached chunks: that read
    past their end (heap-buffer-overflow under ASan) before the cache key held
    the decoded size."""
    before = fastchunk.get_cache_info()["capacity"]
    fastchunk.set_cache_size(64 << 20)
    try:
        path = tmp_path / "a.zarr"
        zarr.create_array(str(path), shape=(8, 8), chunks=(2, 2), dtype="f4",
                          zarr_format=2)[...] = 1
        a = fastchunk.open(path)
        a[...]
        a[:2, :1]  # served from the cache
        shutil.rmtree(path)
        data = np.arange(64 * 64, dtype="f8").reshape(64, 64)
        zarr.create_array(str(path), shape=(64, 64), chunks=(32, 32), dtype="f8",
                          zarr_format=2)[...] = data
        b = fastchunk.open(path)
        np.testing.assert_array_equal(b[:32, 1:3], data[:32, 1:3])
        np.testing.assert_array_equal(b[...], data)
    finally:
        fastchunk.set_cache_size(before)
        fastchunk.clear_cache()


@pytest.mark.parametrize("compressor", [numcodecs.Zlib(9), numcodecs.GZip(9), numcodecs.Zstd(22)],
                         ids=["zlib", "gzip", "zstd"])
def test_chunks_at_the_formats_best_ratio_still_decode(tmp_path: Path,
                                                       compressor: Any) -> None:
    """The size bound that rejects short streams claiming huge chunks leaves
    room for the best real ratios (4 MiB of zeros: about 1:1020 for deflate)."""
    path = tmp_path / "zeros.zarr"
    z = zarr.create_array(str(path), shape=(4, 1 << 22), chunks=(1, 1 << 22), dtype="u1",
                          zarr_format=2, compressors=compressor, fill_value=7)
    z[...] = 0
    z[3, -1] = 1
    a = fastchunk.open(path)
    assert (path / "0.0").stat().st_size * 900 < 1 << 22  # as compressed as claimed
    out = a[...]
    assert out.sum() == 1 and out[3, -1] == 1


@pytest.mark.parametrize("edit", ["typesize-0", "reserved-flag", "blocksize-above-nbytes"])
def test_blosc_headers_c_blosc_refuses_are_refused(tmp_path: Path, edit: str) -> None:
    """A blosc header with an item size of 0 decoded without error into wrong
    values (c-blosc refuses it): zstd frames keep one stream per block, so
    nothing else noticed that the bytes were never unshuffled. The other
    headers c-blosc refuses are refused too."""
    path, _ = v2_array(tmp_path / "a.zarr", numcodecs.Blosc(cname="zstd", shuffle=1),
                       shape=(4, 4000), chunks=(2, 4000))
    chunk = path / "0.0"
    b = bytearray(chunk.read_bytes())
    if edit == "typesize-0":
        b[3] = 0
    elif edit == "reserved-flag":
        b[2] |= 0x08
    else:
        b[8:12] = (int.from_bytes(b[4:8], "little") + 4096).to_bytes(4, "little")
    chunk.write_bytes(bytes(b))
    a = fastchunk.open(path)
    # A whole chunk (on one thread, or split over several), and a few blocks.
    before = fastchunk.get_num_threads()
    try:
        for threads in (1, 4):
            fastchunk.set_num_threads(threads)
            for sel in (np.s_[0:2], np.s_[0, 100:120]):
                with pytest.raises(fastchunk.ChunkDecodeError, match="0.0"):
                    a[sel]
    finally:
        fastchunk.set_num_threads(before)
    with pytest.raises(Exception):  # noqa: B017 - c-blosc's own refusal, whatever its type
        numcodecs.Blosc().decode(bytes(b))
