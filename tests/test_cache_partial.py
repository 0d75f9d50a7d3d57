"""The decoded-chunk cache and partial chunk decoding give the same answers
as full decoding, and the cache obeys its byte budget."""

import numcodecs
import numpy as np
import pytest
import zarr

import fastchunk

pytestmark = pytest.mark.usefixtures("cache_off")


def _data(shape, dtype="f4"):
    rng = np.random.default_rng(3)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def _v2(path, data, chunks, compressor, order="C"):
    z = zarr.open_array(path, mode="w", shape=data.shape, chunks=chunks, dtype=data.dtype,
                        zarr_format=2, compressor=compressor, order=order)
    z[:] = data
    return fastchunk.open_array(path)


SELECTIONS = [
    np.s_[3, 2, 0, 100],
    np.s_[7, :, 0, 5000:5100],
    np.s_[[5, 1, 5], 2:9, :, 2000:3000],
    np.s_[:, 3, 0, 7],
    np.s_[2:4, ::-3, 0, ::97],
    np.s_[-1, -1, 0, -40:],
]


@pytest.mark.parametrize("dtype", ["f4", ">f4", "<i2", ">f8"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_blosc_small_blocks_partial_reads(tmp_path, dtype, order):
    # 16 KiB blocks: single elements and windows decode a few blocks only.
    data = _data((10, 12, 1, 8000), dtype)
    comp = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE, blocksize=16384)
    a = _v2(tmp_path / "b.zarr", data, (1, 12, 1, 8000), comp, order)
    for sel in SELECTIONS:
        np.testing.assert_array_equal(a[sel], data[sel])


def test_zstd_prefix_partial_reads(tmp_path):
    data = _data((10, 12, 1, 8000))
    z = zarr.create_array(tmp_path / "z.zarr", shape=data.shape, chunks=(1, 12, 1, 8000),
                          dtype="f4")
    z[:] = data
    a = fastchunk.open_array(tmp_path / "z.zarr")
    for sel in SELECTIONS:
        np.testing.assert_array_equal(a[sel], data[sel])


def test_partial_read_of_corrupt_blosc_chunk_raises(tmp_path):
    data = _data((2, 4000))
    comp = numcodecs.Blosc("zstd", 3, numcodecs.Blosc.BITSHUFFLE, blocksize=4096)
    a = _v2(tmp_path / "c.zarr", data, (1, 4000), comp)
    path = tmp_path / "c.zarr" / "1.0"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 :] = bytes(len(raw) - len(raw) // 2)
    path.write_bytes(bytes(raw))
    with pytest.raises(fastchunk.ChunkDecodeError, match="1.0"):
        a[1, 3900:]
    np.testing.assert_array_equal(a[0, 10:20], data[0, 10:20])


def test_cache_gives_same_answers_and_hits(tmp_path):
    data = _data((20, 6, 300))
    z = zarr.create_array(tmp_path / "a.zarr", shape=data.shape, chunks=(1, 6, 300), dtype="f4")
    z[:] = data
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size("64MB")
    rng = np.random.default_rng(0)
    for _ in range(3):
        idx = rng.integers(0, 20, 8)
        np.testing.assert_array_equal(a.take(idx), data[idx])
        np.testing.assert_array_equal(a[idx[0], 1:4, ::-1], data[idx[0], 1:4, ::-1])
    info = fastchunk.get_cache_info()
    assert info["hits"] > 0
    assert info["used"] <= info["capacity"]
    assert info["used"] % (6 * 300 * 4) == 0
    # A second epoch decodes nothing: every chunk comes from the cache.
    np.testing.assert_array_equal(a[:], data)
    hits = fastchunk.get_cache_info()["hits"]
    np.testing.assert_array_equal(a[:], data)
    assert fastchunk.get_cache_info()["hits"] - hits == 20
    # The cache names each chunk's file version: the store as it is now is
    # what reads return (chunks deleted since read as missing, not as cached).
    for chunk in (tmp_path / "a.zarr" / "c").rglob("*"):
        if chunk.is_file():
            chunk.unlink()
    np.testing.assert_array_equal(a[:], np.zeros_like(data))


def test_cache_budget_evicts(tmp_path):
    data = _data((30, 1000))
    z = zarr.create_array(tmp_path / "a.zarr", shape=data.shape, chunks=(1, 1000), dtype="f4")
    z[:] = data
    a = fastchunk.open_array(tmp_path / "a.zarr")
    fastchunk.set_cache_size(4000 * 5)  # five chunks
    np.testing.assert_array_equal(a[:], data)
    info = fastchunk.get_cache_info()
    assert info["used"] <= 4000 * 5
    assert info["evictions"] >= 25
    fastchunk.set_cache_size(4000)
    assert fastchunk.get_cache_info()["used"] <= 4000


def test_cache_is_shared_by_arrays_of_a_store_and_kept_apart_across_arrays(tmp_path):
    root = zarr.open_group(tmp_path / "g.zarr", mode="w")
    x = root.create_array("x", shape=(4, 10), chunks=(1, 10), dtype="i4")
    y = root.create_array("y", shape=(4, 10), chunks=(1, 10), dtype="i4")
    x[:] = np.arange(40).reshape(4, 10)
    y[:] = -np.arange(40).reshape(4, 10)
    fastchunk.set_cache_size("1MB")
    g = fastchunk.open_group(tmp_path / "g.zarr")
    np.testing.assert_array_equal(g["x"][:], np.arange(40).reshape(4, 10))
    np.testing.assert_array_equal(g["y"][:], -np.arange(40).reshape(4, 10))
    before = fastchunk.get_cache_info()["hits"]
    again = fastchunk.open_array(tmp_path / "g.zarr", path="x")
    np.testing.assert_array_equal(again[:], np.arange(40).reshape(4, 10))
    assert fastchunk.get_cache_info()["hits"] - before == 4


def test_parse_bytes():
    assert fastchunk.parse_bytes("2GB") == 2 * 10**9
    assert fastchunk.parse_bytes("512MiB") == 512 * 2**20
    assert fastchunk.parse_bytes(7) == 7
    with pytest.raises(ValueError):
        fastchunk.parse_bytes("lots")


def test_partial_read_of_frame_with_huge_window_falls_back(tmp_path):
    # A frame without a content size that asks for a 128 MiB window (zstd
    # --long, compressing a pipe): the prefix decode must not allocate that
    # window, and the answer must be right.
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.fail("the zstd command line tool is needed (Debian package zstd)")
    data = _data((2, 6, 1, 4000))
    z = zarr.create_array(tmp_path / "w.zarr", shape=data.shape, chunks=(1, 6, 1, 4000),
                          dtype="f4")
    z[:] = data
    chunk = tmp_path / "w.zarr" / "c" / "1" / "0" / "0" / "0"
    raw = data[1].tobytes()
    frame = subprocess.run(["zstd", "--long=27", "-q", "-c"], input=raw, capture_output=True,
                           check=True).stdout
    chunk.write_bytes(frame)
    a = fastchunk.open_array(tmp_path / "w.zarr")
    np.testing.assert_array_equal(a[1, 0, 0, :10], data[1, 0, 0, :10])
    np.testing.assert_array_equal(a[1], data[1])


@pytest.mark.parametrize("compressor", ["zstd", "blosc"])
def test_partial_read_still_verifies_crc32c(tmp_path, compressor):
    from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

    data = _data((2, 6, 1, 4000))
    codec = ZstdCodec(level=1) if compressor == "zstd" else BloscCodec(cname="lz4", blocksize=4096)
    z = zarr.create_array(tmp_path / "c.zarr", shape=data.shape, chunks=(1, 6, 1, 4000),
                          dtype="f4", compressors=[codec, Crc32cCodec()])
    z[:] = data
    a = fastchunk.open_array(tmp_path / "c.zarr")
    np.testing.assert_array_equal(a[1, 0, 0, :5], data[1, 0, 0, :5])
    chunk = tmp_path / "c.zarr" / "c" / "1" / "0" / "0" / "0"
    raw = bytearray(chunk.read_bytes())
    raw[-1] ^= 0xFF  # the checksum no longer matches
    chunk.write_bytes(bytes(raw))
    with pytest.raises(fastchunk.ChunkDecodeError, match="crc32c"):
        a[1, 0, 0, :5]  # a partial decode
    with pytest.raises(fastchunk.ChunkDecodeError, match="crc32c"):
        a[1]  # a whole-chunk decode
    np.testing.assert_array_equal(a[0, 0, 0, :5], data[0, 0, 0, :5])
