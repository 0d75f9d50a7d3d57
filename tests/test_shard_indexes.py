"""Shard indexes are decoded, checked and cached by the core, under keys that
name the object precisely: foreign index conventions, rewritten shards, the
cache's byte budget, and stores that are broken where an object should be."""

from __future__ import annotations

import os
import time
import uuid
import warnings
from pathlib import Path

import crc32c
import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs as zc

import fastchunk
from fastchunk import _core
from tests import s3_server
from tests.common import check_reads, random_data
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"

EMPTY = 2**64 - 1


@pytest.fixture(autouse=True)
def fresh_index_cache():
    _core.clear_shard_index_cache()
    yield
    _core.set_shard_index_cache_size(64 << 20)
    _core.clear_shard_index_cache()


def sharded(path: Path, data: np.ndarray, location: str = "end", **kw) -> Path:
    codec = zc.ShardingCodec(chunk_shape=(2, 3), index_location=location,
                             codecs=kw.pop("codecs", None) or [zc.BytesCodec(), zc.ZstdCodec()])
    z = zarr.create_array(str(path), shape=data.shape, chunks=(4, 6), dtype=data.dtype,
                          serializer=codec, compressors=None, fill_value=0, **kw)  # fmt: skip
    z[...] = data
    return path


def patch_index(shard: Path, n: int, location: str, change) -> None:
    """Rewrites the (crc32c-checked) index of `shard` after `change(entries, size)`."""
    raw = bytearray(shard.read_bytes())
    size = 16 * n + 4
    at = 0 if location == "start" else len(raw) - size
    entries = np.frombuffer(bytes(raw[at : at + 16 * n]), dtype="<u8").reshape(n, 2).copy()
    change(entries, len(raw))
    blob = entries.tobytes()
    raw[at : at + size] = blob + crc32c.crc32c(blob).to_bytes(4, "little")
    shard.write_bytes(bytes(raw))


@pytest.mark.parametrize("location", ["start", "end"])
def test_zarrita_empty_entries_with_an_offset_read_as_empty(
    tmp_path: Path, rng: np.random.Generator, location: str
) -> None:
    """zarrita 0.2.7 writes (N, 2^64-1) for inner chunks it did not store:
    empty whatever the offset. Every other entry outside the shard is still
    refused."""
    data = random_data(rng, (8, 12), "uint16")
    data[2:4, 3:6] = 0  # an inner chunk of fill values: not stored
    path = sharded(tmp_path / "a.zarr", data, location)
    shards = sorted(p for p in (path / "c").rglob("*") if p.is_file())

    patched = []

    def zarrita(entries: np.ndarray, size: int) -> None:
        empty = entries[:, 1] == EMPTY
        patched.append(int(empty.sum()))
        entries[empty, 0] = size + 12345  # any offset, past the end even

    for shard in shards:
        patch_index(shard, 4, location, zarrita)
    assert sum(patched) >= 1
    check_reads(fastchunk.open(path), data)

    def outside(entries: np.ndarray, size: int) -> None:
        entries[0] = (size + 1, 4)

    patch_index(shards[0], 4, location, outside)
    _core.clear_shard_index_cache()
    with pytest.raises(fastchunk.ChunkDecodeError, match="outside"):
        fastchunk.open(path)[...]


def test_numcodecs_fallback_shards_take_their_index_from_the_core(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    """Shards whose inner chunks decode through numcodecs read their index
    through the core too: the zarrita convention and the checks apply."""
    data = random_data(rng, (8, 12), "int32") // 1000
    data[2:4, 3:6] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codecs = [zc.BytesCodec(), zc.numcodecs.Fletcher32()]
        path = sharded(tmp_path / "a.zarr", data, codecs=codecs)
    for shard in (p for p in (path / "c").rglob("*") if p.is_file()):
        patch_index(shard, 4, "end",
                    lambda e, size: e.__setitem__((e[:, 1] == EMPTY, 0), 7))  # fmt: skip
    a = fastchunk.open(path)
    assert a.metadata.fallback is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        check_reads(a, data)
        shard = next(p for p in (path / "c").rglob("*") if p.is_file())
        patch_index(shard, 4, "end", lambda e, size: e.__setitem__(1, (size, 8)))
        with pytest.raises(fastchunk.ChunkDecodeError, match="outside"):
            a[...]


def test_a_rewritten_shard_is_never_read_through_a_stale_index(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    first = random_data(rng, (8, 12), "float32")
    path = sharded(tmp_path / "a.zarr", first)
    a = fastchunk.open(path)
    np.testing.assert_array_equal(a[...], first)
    hits = _core.get_shard_index_cache_info()["hits"]
    np.testing.assert_array_equal(a[...], first)
    assert _core.get_shard_index_cache_info()["hits"] > hits  # served from the cache
    # Same keys, new contents: other sizes, and the mtime moves on.
    second = random_data(rng, (8, 12), "float32")
    second[:2, :3] = 0  # a now-empty inner chunk changes the layout too
    time.sleep(0.01)
    z = zarr.open_array(str(path), mode="r+")
    z[...] = second
    np.testing.assert_array_equal(a[...], second)  # the same Array object
    np.testing.assert_array_equal(fastchunk.open(path)[...], second)


def test_the_index_cache_is_bounded_by_bytes(tmp_path: Path, rng: np.random.Generator) -> None:
    data = random_data(rng, (64, 24), "int16")
    path = sharded(tmp_path / "a.zarr", data)  # 16 x 4 shards of 4 inner chunks
    one = 16 * 4 + 200  # bytes of one cached index, roughly (entries, key, bookkeeping)
    _core.set_shard_index_cache_size(10 * one)
    a = fastchunk.open(path)
    np.testing.assert_array_equal(a[...], data)
    info = _core.get_shard_index_cache_info()
    assert info["used"] <= info["capacity"] == 10 * one
    assert 3 <= info["entries"] < 16 * 4
    assert info["evictions"] > 0
    _core.set_shard_index_cache_size(0)  # off: reads still work, nothing is kept
    np.testing.assert_array_equal(a[::-1], data[::-1])
    assert _core.get_shard_index_cache_info()["entries"] == 0


@pytest.mark.parametrize("layout", ["v2", "v3", "sharded", "v2-fallback"])
def test_a_directory_where_a_chunk_should_be_is_an_error(
    tmp_path: Path, rng: np.random.Generator, layout: str
) -> None:
    """Not the fill value: the store is broken, and the error names the key."""
    data = random_data(rng, (8, 12), "int32")
    path = tmp_path / "a.zarr"
    if layout == "sharded":
        sharded(path, data)
        key = "c/1/0"
    elif layout == "v3":
        zarr.create_array(str(path), shape=data.shape, chunks=(4, 6), dtype="i4")[...] = data
        key = "c/1/0"
    else:
        filters = [numcodecs.Delta(dtype="<i4")] if layout == "v2-fallback" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z = zarr.create_array(str(path), shape=data.shape, chunks=(4, 6), dtype="i4",
                                  zarr_format=2, filters=filters)  # fmt: skip
        z[...] = data
        key = "1.0"
    os.remove(path / key)
    (path / key).mkdir()
    a = fastchunk.open(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastchunk.SlowCodecWarning)
        with pytest.raises(fastchunk.FastchunkError, match=f"'{key}'.*directory"):
            a[...]
        np.testing.assert_array_equal(a[:4], data[:4])  # the rest of the store reads


@pytest.mark.parametrize("location", ["start", "end"])
def test_a_shard_rewritten_on_s3_is_never_read_through_a_stale_index(
    s3: s3_server.S3Server, tmp_path: Path, rng: np.random.Generator, location: str
) -> None:
    """As a user would: read a sharded store on S3, rewrite it with zarr-python
    and upload it again, read it again in the same process. The cached index
    of the old object must not be used on the new one (it named byte ranges
    of the old shard: 'not a zstd frame')."""
    prefix = f"rewritten/{uuid.uuid4().hex}/a.zarr"
    url = f"s3://{s3.bucket}/{prefix}"
    first = random_data(rng, (8, 12), "float32")
    s3.upload_dir(sharded(tmp_path / "first.zarr", first, location), prefix)
    a = fastchunk.open(url, storage_options=s3.storage_options())
    np.testing.assert_array_equal(a[...], first)
    np.testing.assert_array_equal(a[...], first)  # the indexes are cached now
    second = random_data(rng, (8, 12), "float32")
    second[:2, :3] = 0  # an empty inner chunk: other offsets in every shard
    s3.upload_dir(sharded(tmp_path / "second.zarr", second, location), prefix)
    np.testing.assert_array_equal(fastchunk.open(url, storage_options=s3.storage_options())[...],
                                  second)
    np.testing.assert_array_equal(a[...], second)  # the same Array object
    np.testing.assert_array_equal(a[2:7, 1:11], second[2:7, 1:11])
