"""fastchunk's codec pipeline for zarr-python: every read form (basic,
oindex, vindex, mask, block, out=) on every store kind and layout gives what
zarr-python's default pipeline gives, through the core (counted), with
fallbacks counted and corrupt chunks named."""

from __future__ import annotations

import importlib.metadata
import threading
import time
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import fastchunk

zarr = pytest.importorskip("zarr")

from zarr.storage import LocalStore, MemoryStore  # noqa: E402

from fastchunk.zarr.pipeline_stats import reset_stats, stats  # noqa: E402

FASTCHUNK = "fastchunk.zarr.CodecPipeline"
DEFAULT = "zarr.core.codec_pipeline.BatchedCodecPipeline"


@pytest.fixture(autouse=True)
def _fresh_stats() -> None:
    reset_stats()


def _open(store: Any, path: str, pipeline: str) -> Any:
    with zarr.config.set({"codec_pipeline.path": pipeline}):
        a = zarr.open_array(store, path=path, mode="r")
    assert type(a.async_array.codec_pipeline).__name__ == (
        "CodecPipeline" if pipeline == FASTCHUNK else "BatchedCodecPipeline")
    return a


def _selections(shape: tuple[int, ...], rng: np.random.Generator) -> list[tuple[str, Any]]:
    n0 = shape[0]
    idx = rng.integers(0, n0, size=5)
    sels: list[tuple[str, Any]] = [
        ("basic", (Ellipsis,)),
        ("basic", (slice(1, None, 3),)),
        ("basic", (n0 - 1,)),
        ("oindex", (idx,)),
        ("oindex", (np.sort(idx),)),
        ("oindex", (np.arange(n0) % 3 == 0,)),
        ("vindex", (idx,) + tuple(rng.integers(0, s, size=5) for s in shape[1:])),
        ("block", (slice(0, 2),)),
    ]
    if len(shape) > 1:
        sels += [
            ("basic", (slice(2, 9), 1)),
            ("basic", (3, slice(None, None, 2))),
            ("oindex", (idx, slice(1, None))),
            ("oindex", (idx, 2)),
            ("oindex", (1, [shape[1] - 1, 0, 0])),
            ("vindex", (idx[:3].reshape(3, 1), np.array([[0, shape[1] - 1]]))
             + tuple(np.array([[s - 1]]) for s in shape[2:])),
        ]
    return sels


def _read(a: Any, how: str, sel: Any) -> Any:
    if how == "basic":
        return a[sel]
    if how == "oindex":
        return a.oindex[sel]
    if how == "vindex":
        return a.vindex[sel]
    return a.blocks[sel]


def _compare(store: Any, path: str, rng: np.random.Generator, served: bool = True) -> None:
    fast, default = _open(store, path, FASTCHUNK), _open(store, path, DEFAULT)
    for how, sel in _selections(fast.shape, rng):
        got, want = _read(fast, how, sel), _read(default, how, sel)
        assert np.asarray(got).dtype == np.asarray(want).dtype, (how, sel)
        np.testing.assert_array_equal(got, want, err_msg=f"{how} {sel}")
    if fast.ndim == 3:
        mask = np.asarray(default[...]) > 0
        np.testing.assert_array_equal(fast.vindex[mask], default.vindex[mask])
    s = stats()
    if served:
        assert s["reads_native"] > 0 and s["reads_fallback"] == 0, s
    else:
        assert s["reads_fallback"] > 0, s


def _data(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    dt = np.dtype(dtype)
    if dt.kind == "b":
        return rng.random(shape) > 0.5
    if dt.kind in "iu":
        return rng.integers(0, 100, size=shape).astype(dt)
    if dt.kind in "Mm":
        return rng.integers(0, 10**9, size=shape).astype("i8").view(dt)
    if dt.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dt)
    return rng.standard_normal(shape).astype(dt)


LAYOUTS = {
    "v3-zstd": dict(zarr_format=3),
    "v3-none": dict(zarr_format=3, compressors=None),
    "v3-gzip-crc": dict(zarr_format=3, compressors=[zarr.codecs.GzipCodec(),
                                                      zarr.codecs.Crc32cCodec()]),
    "v3-blosc-big": dict(zarr_format=3, serializer=zarr.codecs.BytesCodec(endian="big"),
                         compressors=zarr.codecs.BloscCodec(cname="lz4")),
    "v3-transpose": dict(zarr_format=3, filters=[zarr.codecs.TransposeCodec(order=(2, 0, 1))]),
    "v3-sharded": dict(zarr_format=3, shards=(8, 6, 5)),
    "v3-sharded-start": dict(zarr_format=3, shards=(8, 6, 5), compressors=None,
                             serializer=zarr.codecs.ShardingCodec(
                                 chunk_shape=(4, 3, 5), index_location="start",
                                 codecs=[zarr.codecs.BytesCodec(),
                                         zarr.codecs.GzipCodec()])),
    "v2-blosc": dict(zarr_format=2, compressors=numcodecs.Blosc(cname="lz4")),
    "v2-F-zlib": dict(zarr_format=2, order="F", compressors=numcodecs.Zlib()),
    "v2-lz4": dict(zarr_format=2, compressors=numcodecs.LZ4()),
    "v2-none": dict(zarr_format=2, compressors=None),
    "v2-delta-bz2": dict(zarr_format=2, filters=[numcodecs.Delta(dtype="f4")],
                         compressors=numcodecs.BZ2()),
    "v3-numcodecs-shuffle-lzma": dict(zarr_format=3, compressors=[
        zarr.codecs.numcodecs.Shuffle(elementsize=4), zarr.codecs.numcodecs.LZMA()]),
}


@pytest.mark.parametrize("store_kind", ["local", "memory"])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_reads_match_the_default_pipeline(tmp_path: Path, rng: np.random.Generator,
                                          store_kind: str, layout: str) -> None:
    store = LocalStore(str(tmp_path / "s.zarr")) if store_kind == "local" else MemoryStore()
    kw = dict(LAYOUTS[layout])
    if "serializer" in kw and isinstance(kw["serializer"], zarr.codecs.ShardingCodec):
        kw.pop("shards", None)
        chunks = (8, 6, 5)
    else:
        chunks = (4, 3, 5)
    data = _data(rng, (19, 11, 5), "f4")
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=chunks, dtype="f4",
                          fill_value=-7.5, **kw)
    a[:12] = data[:12]  # later dates stay missing: fill value
    _compare(store, "a", rng)


_DTYPES = ["<i2", ">i4", ">f8", "u1", "?", "<c16", ">c8", "M8[s]", "m8[ms]"]


# zarr v3 arrays have native dtypes (the bytes codec sets the stored order).
@pytest.mark.parametrize(("fmt", "dtype"), [(2, d) for d in _DTYPES]
                         + [(3, d) for d in _DTYPES if not d.startswith(">")])
def test_dtypes_and_byte_orders(tmp_path: Path, rng: np.random.Generator, dtype: str,
                                fmt: int) -> None:
    data = _data(rng, (13, 7), dtype)
    store = LocalStore(str(tmp_path / "s.zarr"))
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(4, 3), dtype=dtype,
                          zarr_format=fmt)
    a[...] = data
    _compare(store, "a", rng)
    np.testing.assert_array_equal(_open(store, "a", FASTCHUNK)[...], data)


def test_zero_dim_and_order_config(tmp_path: Path, rng: np.random.Generator) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    z = zarr.create_array(store, name="z", shape=(), dtype="i8", fill_value=3)
    assert _open(store, "z", FASTCHUNK)[()] == 3
    z[()] = 11
    assert _open(store, "z", FASTCHUNK)[()] == 11
    data = _data(rng, (9, 10), "f8")
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(4, 3), dtype="f8")
    a[...] = data
    with zarr.config.set({"array.order": "F", "codec_pipeline.path": FASTCHUNK}):
        f = zarr.open_array(store, path="a", mode="r")
        got = f[1:8, ::2]
    assert got.flags.f_contiguous
    np.testing.assert_array_equal(got, data[1:8, ::2])


def test_out_buffers(tmp_path: Path, rng: np.random.Generator) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    data = _data(rng, (9, 10), "i8")
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(4, 3), dtype="i8",
                          fill_value=-3)
    a[:6] = data[:6]
    want = data.copy()
    want[6:] = -3
    f = _open(store, "a", FASTCHUNK)
    from zarr.core.buffer import default_buffer_prototype

    for dtype in ["i8", "f8", ">i4"]:  # the array's dtype, then casts as numpy does
        out = default_buffer_prototype().nd_buffer.empty(shape=(9, 10), dtype=np.dtype(dtype))
        f.get_basic_selection(Ellipsis, out=out)
        np.testing.assert_array_equal(out.as_numpy_array(), want.astype(dtype))
    s = stats()
    assert s["reads_native"] == 3 and s["reads_fallback"] == 0, s


def test_codecs_the_core_lacks_fall_back_counted(tmp_path: Path,
                                                 rng: np.random.Generator) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    data = _data(rng, (12, 6), "f8")
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(5, 4), dtype="f8",
                          zarr_format=2, filters=[numcodecs.FixedScaleOffset(
                              offset=0, scale=100, dtype="f8", astype="i4")])
    a[...] = data
    _compare(store, "a", rng, served=False)
    s = stats()
    assert s["arrays_fallback"] >= 1
    assert any("fixedscaleoffset" in r for r in s["fallback_reasons"]), s


@pytest.mark.filterwarnings("ignore:The data type .* does not have a Zarr V3")
@pytest.mark.parametrize(("fmt", "kind", "order"),
                         [(3, "utf8", "C"), (3, "bytes", "C"), (2, "utf8", "C"),
                          (2, "utf8", "F"), (2, "bytes", "C"), (3, "utf8", "crc32c")])
def test_variable_length_strings_and_bytes(tmp_path: Path, rng: np.random.Generator,
                                           fmt: int, kind: str, order: str) -> None:
    from zarr.dtype import VariableLengthBytes, VariableLengthUTF8

    store = LocalStore(str(tmp_path / "s.zarr"))
    words = np.array(["", "a", "bé", "日本", "x" * 70], dtype=object)
    data = words[rng.integers(0, len(words), size=(13, 7))]
    if kind == "bytes":
        data = np.vectorize(lambda w: w.encode(), otypes=[object])(data)
    kw: dict[str, Any] = {"order": order} if fmt == 2 else {}
    if order == "crc32c":
        kw = {"compressors": [zarr.codecs.ZstdCodec(), zarr.codecs.Crc32cCodec()]}
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(4, 3), zarr_format=fmt,
                          dtype=VariableLengthUTF8() if kind == "utf8" else VariableLengthBytes(),
                          **kw)
    a[:9] = data[:9]  # later rows stay missing: fill value
    _compare(store, "a", rng)
    assert stats()["chunks_vlen"] > 0


def test_corrupt_string_framing_is_named(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    a = zarr.create_array(store, name="a", shape=(4,), chunks=(4,), dtype=str, compressors=None)
    a[...] = np.array(["ab", "", "cé", "d"])
    chunk = tmp_path / "s.zarr" / "a" / "c" / "0"
    raw = chunk.read_bytes()
    chunk.write_bytes(raw[:4] + (2**31).to_bytes(4, "little") + raw[8:])
    with pytest.raises(fastchunk.ChunkDecodeError, match=r"a/c/0.*past the end"):
        _open(store, "a", FASTCHUNK)[...]


def test_corrupt_chunk_is_named(tmp_path: Path, rng: np.random.Generator) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    a = zarr.create_array(store, name="a", shape=(8, 8), chunks=(4, 4), dtype="f4")
    a[...] = _data(rng, (8, 8), "f4")
    chunk = tmp_path / "s.zarr" / "a" / "c" / "1" / "0"
    chunk.write_bytes(chunk.read_bytes()[:-5])
    f = _open(store, "a", FASTCHUNK)
    with pytest.raises(fastchunk.ChunkDecodeError, match="a/c/1/0"):
        f[...]
    np.testing.assert_array_equal(f[:4], a[:4])  # other chunks still read


def test_hostile_shard_index_is_rejected(tmp_path: Path, rng: np.random.Generator) -> None:
    store = LocalStore(str(tmp_path / "s.zarr"))
    a = zarr.create_array(store, name="a", shape=(8, 8), chunks=(2, 8), shards=(8, 8),
                          dtype="f4", compressors=None)
    a[...] = _data(rng, (8, 8), "f4")
    shard = tmp_path / "s.zarr" / "a" / "c" / "0" / "0"
    raw = bytearray(shard.read_bytes())
    index = np.frombuffer(raw[-68:-4], dtype="<u8").copy()  # 4 inner chunks, then crc32c
    index[2] = 2**62  # an offset far past the end of the shard, checksum still right
    raw[-68:-4] = index.tobytes()
    raw[-4:] = fastchunk._core.crc32c(index.tobytes()).to_bytes(4, "little")
    shard.write_bytes(bytes(raw))
    with pytest.raises(fastchunk.ChunkDecodeError, match="outside"):
        _open(store, "a", FASTCHUNK)[...]


def test_entry_point_and_environment(tmp_path: Path) -> None:
    eps = importlib.metadata.entry_points(group="zarr.codec_pipeline")
    assert any(e.value == "fastchunk.zarr:CodecPipeline" for e in eps)
    import subprocess
    import sys

    store = tmp_path / "s.zarr"
    a = zarr.create_array(str(store), shape=(6,), chunks=(4,), dtype="i4")
    a[...] = np.arange(6)
    code = ("import zarr; from fastchunk.zarr.pipeline_stats import stats; "
            f"a = zarr.open_array({str(store)!r}, mode='r'); print(a[2:].tolist(), "
            "type(a.async_array.codec_pipeline).__module__, stats()['reads_native'])")
    env = {**__import__("os").environ, "ZARR_CODEC_PIPELINE__PATH": FASTCHUNK}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["[2,", "3,", "4,", "5]", "fastchunk.zarr", "1"]


def test_pipeline_pickles(tmp_path: Path) -> None:
    import pickle

    a = zarr.create_array(str(tmp_path / "s.zarr"), shape=(6,), chunks=(4,), dtype="i4")
    a[...] = np.arange(6)
    f = _open(str(tmp_path / "s.zarr"), "", FASTCHUNK)
    g = pickle.loads(pickle.dumps(f))
    with zarr.config.set({"codec_pipeline.path": FASTCHUNK}):
        assert g[...].tolist() == list(range(6))


def test_xarray_open_zarr(tmp_path: Path, rng: np.random.Generator) -> None:
    xr = pytest.importorskip("xarray")
    ds = xr.Dataset(
        {"t2m": (("time", "cell"), _data(rng, (20, 30), "f4")),
         "u10": (("time", "cell"), _data(rng, (20, 30), "f8"))},
        coords={"time": np.arange(20).astype("M8[h]"), "cell": np.arange(30),
                "name": ("cell", np.array([f"c{i}" for i in range(30)]))},
    )
    ds.to_zarr(tmp_path / "d.zarr", encoding={"t2m": {"chunks": (1, 30)},
                                              "u10": {"chunks": (4, 16)}})
    idx = np.array([7, 2, 2, 19])
    want = xr.open_zarr(tmp_path / "d.zarr").isel(time=idx).load()
    reset_stats()
    with zarr.config.set({"codec_pipeline.path": FASTCHUNK}):
        got = xr.open_zarr(tmp_path / "d.zarr").isel(time=idx).load()
    xr.testing.assert_identical(got, want)
    assert stats()["reads_native"] >= 3


def test_large_reads_from_stores_go_in_groups(monkeypatch: pytest.MonkeyPatch,
                                              rng: np.random.Generator) -> None:
    import fastchunk.zarr.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_FETCH_GROUP", 7)
    store = MemoryStore()
    data = _data(rng, (50, 4), "f4")
    a = zarr.create_array(store, name="a", shape=data.shape, chunks=(2, 2), dtype="f4")
    a[:40] = data[:40]
    _compare(store, "a", rng)
    s = zarr.create_array(store, name="s", shape=data.shape, chunks=(2, 2), shards=(10, 4),
                          dtype="f4")
    s[...] = data
    _compare(store, "s", rng)


@pytest.mark.parametrize("mapping", [True, False])
@pytest.mark.parametrize("layout", ["v2-none", "v2-blosc", "v3-sharded"])
def test_chunks_rewritten_in_place_under_pipeline_reads(tmp_path: Path, mapping: bool,
                                                        layout: str) -> None:
    """tests/test_local_io.py's rewrite-under-read test, read through zarr-python
    with fastchunk's pipeline (the core reads the LocalStore's files itself):
    threads read while chunk files are truncated and rewritten in place; every
    read returns the old or the new data or raises a clean error, never a mix
    of both versions. Uncompressed chunks make a mix decode without error:
    before batch decodes checked that the file stayed unchanged, the mapped
    variant saw about 7 mixed reads in 1000 rewrites."""
    from fastchunk import _core

    _core.set_map_size((1 << 30) if mapping else 0)
    _core.clear_maps()
    shape = (4, 8, 20000)
    kw: dict[str, Any] = {
        "v2-none": dict(zarr_format=2, chunks=(1, 8, 20000), compressors=None),
        "v2-blosc": dict(zarr_format=2, chunks=(1, 8, 20000),
                         compressors=numcodecs.Blosc("lz4", 5)),
        "v3-sharded": dict(zarr_format=3, shards=(1, 8, 20000), chunks=(1, 8, 10000)),
    }[layout]
    rng = np.random.default_rng(3)
    base = np.sin(np.arange(int(np.prod(shape))) / 300.0).reshape(shape) * 100
    old = (base + rng.standard_normal(shape)).astype("f4")
    new = (base + rng.standard_normal(shape)).astype("f4")

    def write(path: Path, data: np.ndarray) -> Path:
        z = zarr.create_array(LocalStore(path), shape=shape, dtype="f4", **kw)
        z[...] = data
        return path

    path = write(tmp_path / "a.zarr", old)
    write(tmp_path / "n.zarr", new)
    files = sorted(p for p in path.rglob("*")
                   if p.is_file() and not p.name.startswith((".", "zarr.json")))
    originals = {p: p.read_bytes() for p in files}
    replaced = {p: (tmp_path / "n.zarr" / p.relative_to(path)).read_bytes() for p in files}
    a = _open(LocalStore(path), "", FASTCHUNK)
    stop = threading.Event()
    problems: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                got = a[...]  # every chunk in one batch: most of the time is spent decoding
            except fastchunk.FastchunkError:
                continue  # a clean error naming the chunk
            except BaseException as e:  # noqa: BLE001 - anything else is a failure
                problems.append(e)
                return
            for i in range(shape[0]):
                if not (np.array_equal(got[i], old[i]) or np.array_equal(got[i], new[i])):
                    problems.append(AssertionError(f"date {i}: neither the old nor the new data"))
                    return

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        r = np.random.default_rng(9)
        for _ in range(800):
            time.sleep(0.001)  # readers finish reads between rewrites too
            p = files[int(r.integers(len(files)))]
            with open(p, "r+b") as f:  # in place: the same inode, shrinking and growing
                f.truncate(int(r.integers(0, 1000)))
                f.seek(0)
                f.write((replaced if r.random() < 0.5 else originals)[p])
                f.truncate()
    finally:
        stop.set()
        for t in threads:
            t.join()
        _core.clear_maps()
    assert not problems, problems[0]
    for p, b in originals.items():
        p.write_bytes(b)
    np.testing.assert_array_equal(a[...], old)
    assert stats()["reads_fallback"] == 0
