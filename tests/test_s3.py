"""Reading over S3 from a real SeaweedFS server on loopback, compared with the
local read of the same zarr-python stores."""

from __future__ import annotations

import pickle
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: E402, F401 - fixture "s3_stores"

zarr = pytest.importorskip("zarr")

SHAPE = s3_server.SHAPE
_data = s3_server.test_data


ARRAYS = ["v2", "v3", "v3_sharded", "v3_shard_index_start"]


@pytest.mark.parametrize("name", ARRAYS)
def test_s3_read_matches_local(s3: s3_server.S3Server, s3_stores: dict, name: str) -> None:
    local_path, url = s3_stores[name]
    local = fastchunk.open(str(local_path))
    remote = fastchunk.open(url, storage_options=s3.storage_options())
    assert remote.shape == local.shape and remote.dtype == local.dtype
    assert remote.store.local_root is None
    np.testing.assert_array_equal(remote[...], local[...])
    np.testing.assert_array_equal(remote[...], _data())
    rng = np.random.default_rng(0)
    idx = rng.permutation(SHAPE[0])[:20]
    np.testing.assert_array_equal(remote.take(idx), local.take(idx))
    np.testing.assert_array_equal(remote[5:13, 1, 7:44], local[5:13, 1, 7:44])
    np.testing.assert_array_equal(remote[[3, 3, 40], :, ::-3], local[[3, 3, 40], :, ::-3])


def test_s3_group_listing_and_nested_arrays(s3: s3_server.S3Server, s3_stores: dict) -> None:
    local_path, url = s3_stores["group"]
    g = fastchunk.open_group(url, storage_options=s3.storage_options())
    assert g.keys() == fastchunk.open_group(str(local_path)).keys() == ["a", "sub"]
    np.testing.assert_array_equal(g["a"][...], np.arange(70).reshape(10, 7))
    np.testing.assert_array_equal(
        fastchunk.open(url, path="sub/b", storage_options=s3.storage_options())[...],
        [1, 2, 3, 4, 5],
    )


@pytest.mark.parametrize("name", ["v3_sharded", "v3_shard_index_start"])
def test_sharded_reads_fetch_only_needed_inner_chunks(
    s3: s3_server.S3Server, s3_stores: dict, name: str
) -> None:
    """The core's plan names the shard indexes (once: they are cached) and
    the inner chunks' byte ranges; nothing else is fetched."""
    from fastchunk.store.serve import fetch

    fastchunk._core.clear_shard_index_cache()
    local_path, url = s3_stores[name]
    remote = fastchunk.open(url, storage_options=s3.storage_options())
    data = _data()

    def read(idx: list[np.ndarray]) -> tuple[np.ndarray, list[list[tuple]]]:
        out = np.empty([len(i) for i in idx], dtype="f4")
        plan = remote._native.plan(idx, out.reshape(-1).view(np.uint8))
        rounds = []
        while plan.decode_ready():
            requests = plan.pending()
            rounds.append(requests)
            plan.provide(requests, fetch(remote.store, requests))
        plan.finish()
        return out, rounds

    rng = np.random.default_rng(7)
    for _ in range(12):
        idx = [
            np.sort(rng.choice(n, size=int(rng.integers(1, n + 1)), replace=False)).astype(np.int64)
            for n in SHAPE
        ]
        out, _rounds = read(idx)
        np.testing.assert_array_equal(out, data[np.ix_(*idx)])
    # One row of one shard: its index is cached by now, and the inner chunks
    # of the row lie close together: one coalesced ranged read, not the shard.
    idx = [np.array([20]), np.arange(3), np.arange(10)]
    out, rounds = read(idx)
    np.testing.assert_array_equal(out, data[20:21, :, :10])
    assert len(rounds) == 1 and len(rounds[0]) == 1
    ((key, offset, length),) = rounds[0]
    assert offset is not None and length is not None
    index_nbytes = remote.metadata.shard.index_nbytes
    assert length < (local_path / key).stat().st_size - index_nbytes
    # Cleared: the index is fetched again first, then the chunks.
    fastchunk._core.clear_shard_index_cache()
    _out, rounds = read(idx)
    assert [len(r) for r in rounds] == ([2, 1] if name == "v3_shard_index_start" else [1, 1])
    assert all(offset is None or offset == 0 for _, offset, _ in rounds[0])


@pytest.mark.usefixtures("cache_off")
def test_same_bucket_and_keys_on_two_endpoints_share_no_cache_entry(
    s3: s3_server.S3Server, tmp_path: Path
) -> None:
    """The caches' keys name the endpoint too: two servers holding the same
    bucket and keys with other data never answer for each other."""
    other = s3_server.start_server(tmp_path / "other")
    try:
        stores = {}
        for n, server in enumerate((s3, other)):
            for layout in ("chunked", "sharded"):
                data = np.arange(24 * 10, dtype="i4").reshape(24, 10) * (n + 1)
                data[: 4 + 3 * n] = -1  # other empty inner chunks: another shard layout
                path = tmp_path / f"{n}-{layout}.zarr"
                z = zarr.create_array(str(path), shape=data.shape, chunks=(4, 5), dtype="i4",
                                      fill_value=-1,
                                      shards=(8, 10) if layout == "sharded" else None)
                z[...] = data
                server.upload_dir(path, f"same/{layout}.zarr")
                stores[n, layout] = (server, data)
        fastchunk.set_cache_size("16MB")
        for layout in ("chunked", "sharded"):
            for n in (0, 1, 0, 1):
                server, data = stores[n, layout]
                a = fastchunk.open(f"s3://{server.bucket}/same/{layout}.zarr",
                                   storage_options=server.storage_options())
                assert a.store.name == f"s3://{server.bucket}/same/{layout}.zarr"  # same name
                np.testing.assert_array_equal(a[...], data)
        assert fastchunk.get_cache_info()["hits"] > 0
    finally:
        other.stop()


def test_remote_store_ranges_suffixes_and_listing(s3: s3_server.S3Server, s3_stores: dict) -> None:
    from fastchunk.store.remote import RemoteStore

    local_path, _url = s3_stores["v2"]
    store = RemoteStore(f"s3://{s3.bucket}/stores/v2.zarr", s3.storage_options(concurrency=4))
    key = "1.0.0"
    raw = (local_path / key).read_bytes()
    got = store.get_ranges([(key, 0, 10), (key, 5, 7), ("no/such/key", 0, 3), (".zarray", 1, 4)])
    assert bytes(got[0]) == raw[:10] and bytes(got[1]) == raw[5:12] and got[2] is None
    assert bytes(got[3]) == (local_path / ".zarray").read_bytes()[1:5]
    tail, size = store.get_suffix(key, 8)  # type: ignore[misc]
    assert bytes(tail) == raw[-8:] and size == len(raw)
    assert store.get_suffix(key, 0)[1] == len(raw)  # type: ignore[index]
    assert store.get_suffix("missing", 8) is None
    listed = dict(store.list_prefix(""))
    on_disk = {
        p.relative_to(local_path).as_posix(): p.stat().st_size
        for p in local_path.rglob("*")
        if p.is_file()
    }
    assert listed == on_disk
    many = store.get_many([key, "nope", key])
    assert list(many) == [key, "nope"] and bytes(many[key]) == raw and many["nope"] is None
    clone = pickle.loads(pickle.dumps(store))
    assert clone.name == store.name and clone.get(key) == raw


def test_wrong_secret_is_a_clean_permission_error(s3: s3_server.S3Server, s3_stores: dict) -> None:
    _path, url = s3_stores["v3"]
    bad = "definitely-not-the-secret-1234"
    with pytest.raises(PermissionError) as info:
        fastchunk.open(url, storage_options=s3.storage_options(secret=bad, max_retries=1))
    msg = str(info.value)
    assert s3.bucket in msg and "key 'stores/v3.zarr/" in msg
    assert bad not in msg and s3.secret_key not in msg
    assert "403" in msg


def test_anonymous_access_is_refused_cleanly(s3: s3_server.S3Server, s3_stores: dict) -> None:
    _path, url = s3_stores["v2"]
    with pytest.raises(PermissionError, match=s3.bucket):
        fastchunk.open(url, storage_options={"endpoint_url": s3.endpoint, "anon": True})


@pytest.mark.parametrize("client", ["direct", "obstore", "botocore"])
def test_every_refusal_is_one_documented_exception(
    s3: s3_server.S3Server, s3_stores: dict, client: str
) -> None:
    """Wrong secret, unknown key, bogus token, anonymous access to a private
    bucket: each was a PermissionError, and missing credentials a
    RemoteStoreError saying "403 Forbidden". Every refusal is now a
    fastchunk.RemoteAccessError (also a RemoteStoreError, a FastchunkError
    and a PermissionError), through either client."""
    from fastchunk.store.boto_client import BotoEngine
    from fastchunk.store.options import RemoteOptions

    _path, url = s3_stores["v3"]
    cases = {
        "secret": s3.storage_options(secret="definitely-not-the-secret-1234", max_retries=1),
        "key": s3.storage_options(key="NO-SUCH-KEY", max_retries=1),
        "token": s3.storage_options(token="bogus", max_retries=1),
        "anon": {"endpoint_url": s3.endpoint, "anon": True, "max_retries": 1},
    }
    for name, options in cases.items():
        with pytest.raises(fastchunk.RemoteAccessError) as info:
            if client != "botocore":
                fastchunk.open(url, storage_options={**options, "client": client})
            else:
                BotoEngine(RemoteOptions(url, options)).get_many(["zarr.json"])
        e = info.value
        assert isinstance(e, (fastchunk.RemoteStoreError, fastchunk.FastchunkError))
        assert isinstance(e, PermissionError), name
        assert s3.bucket in str(e) and s3.secret_key not in str(e)
    with pytest.raises(fastchunk.MissingBucketError):
        fastchunk.open("s3://no-such-bucket/x.zarr", storage_options=s3.storage_options())


@pytest.mark.parametrize("client", ["direct", "obstore", "botocore"])
def test_missing_credentials_are_named_as_such(
    s3: s3_server.S3Server, s3_stores: dict, client: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No key anywhere (storage_options, environment, profiles, instance
    metadata): a RemoteAccessError that says so and what to pass."""
    from fastchunk.store.boto_client import BotoEngine
    from fastchunk.store.options import RemoteOptions

    for name in [n for n in __import__("os").environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _path, url = s3_stores["v3"]
    options = {"endpoint_url": s3.endpoint, "region": s3.region, "max_retries": 0,
               "connect_timeout": 1, "retry_timeout": 2}  # fmt: skip
    with pytest.raises(fastchunk.RemoteAccessError, match="no AWS credentials found") as info:
        if client != "botocore":
            fastchunk.open(url, storage_options={**options, "client": client})
        else:
            BotoEngine(RemoteOptions(url, options)).get_many(["zarr.json"])
    assert "'anon': True" in str(info.value)


def test_missing_bucket_and_missing_store(s3: s3_server.S3Server) -> None:
    with pytest.raises(FileNotFoundError, match="no-such-bucket"):
        fastchunk.open("s3://no-such-bucket/x.zarr", storage_options=s3.storage_options())
    with pytest.raises(FileNotFoundError, match="nothing/here.zarr"):
        fastchunk.open(f"s3://{s3.bucket}/nothing/here.zarr", storage_options=s3.storage_options())


def test_the_process_cache_follows_what_each_store_learned(
    s3: s3_server.S3Server, tmp_path: Path, cache_off: None
) -> None:
    """The process's decoded-chunk cache names each object's version (ETag):
    a second epoch of a store makes no request (its plans are told the
    versions the store learned), and a store opened after a rewrite reads the
    new values (the old key named no version: it read the old ones)."""
    def upload(value: float) -> None:
        path = tmp_path / f"v{value}.zarr"
        z = zarr.create_array(str(path), shape=(4, 100), chunks=(1, 100), dtype="f4")
        z[...] = np.full((4, 100), value, "f4")
        s3.upload_dir(path, "process-cache/a.zarr")

    url = f"s3://{s3.bucket}/process-cache/a.zarr"
    upload(1.0)
    fastchunk.set_cache_size("8MB")
    first = fastchunk.open(url, storage_options=s3.storage_options())
    np.testing.assert_array_equal(first[...], 1.0)
    gets = first.store.request_counts()["get"]
    np.testing.assert_array_equal(first[...], 1.0)
    assert first.store.request_counts()["get"] == gets  # every chunk from the cache
    upload(2.0)
    later = fastchunk.open(url, storage_options=s3.storage_options())
    np.testing.assert_array_equal(later[...], 2.0)


def test_missing_chunk_reads_as_fill_value(
    s3: s3_server.S3Server, s3_stores: dict, tmp_path: Path
) -> None:
    import obstore

    local_path, _ = s3_stores["v2"]
    data = _data()
    s3.upload_dir(local_path, "holes/v2.zarr")
    obstore.delete(s3.obstore(), "holes/v2.zarr/1.0.1")  # rows 4..7, columns 25..49
    a = fastchunk.open(f"s3://{s3.bucket}/holes/v2.zarr", storage_options=s3.storage_options())
    expected = data.copy()
    expected[4:8, :, 25:50] = a.fill_value
    assert not np.array_equal(expected, data)
    np.testing.assert_array_equal(a[...], expected)
    np.testing.assert_array_equal(a.take([6, 0, 5]), expected[[6, 0, 5]])


def test_server_killed_mid_read_gives_clean_error_quickly(tmp_path: Path, s3_stores: dict) -> None:
    """Its own server, behind a 20 ms proxy so the read is surely in flight
    when the server dies."""
    server = s3_server.start_server(tmp_path / "doomed")
    proxy = s3_server.LatencyProxy(int(server.endpoint.rsplit(":", 1)[1]), 0.02).start()
    try:
        local_path, _ = s3_stores["v3"]
        server.upload_dir(local_path, "v3.zarr")
        opts = server.storage_options(
            endpoint_url=proxy.endpoint, concurrency=2, max_retries=2, retry_timeout=5,
            connect_timeout=2, read_timeout=5,
        )  # fmt: skip
        a = fastchunk.open(f"s3://{server.bucket}/v3.zarr", storage_options=opts)
        result: dict[str, Any] = {}

        def read() -> None:
            t0 = time.monotonic()
            try:
                result["value"] = a[...]  # 24 chunks, 2 at a time, >= 240 ms
            except BaseException as e:  # noqa: BLE001 - handed to the test thread
                result["error"] = e
            result["seconds"] = time.monotonic() - t0

        worker = threading.Thread(target=read, daemon=True)
        worker.start()
        time.sleep(0.08)
        server.stop()
        worker.join(60)
        assert not worker.is_alive(), "read hung after the server died"
        err = result.get("error")
        assert err is not None, "read finished before the server was killed"
        assert isinstance(err, fastchunk.FastchunkError) and isinstance(err, OSError)
        assert server.bucket in str(err) and server.secret_key not in str(err)
        assert result["seconds"] < 30
    finally:
        proxy.stop()
        server.stop()


def test_bad_storage_options_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown storage_options"):
        fastchunk.open("s3://b/x.zarr", storage_options={"secret_key": "x"})
    with pytest.raises(ValueError, match="together"):
        fastchunk.open("s3://b/x.zarr", storage_options={"key": "x"})


@pytest.mark.usefixtures("cache_off")
@pytest.mark.parametrize("name", ["v2", "v3_sharded"])
def test_compressed_level_serves_a_second_read_without_requests(
    s3: s3_server.S3Server, s3_stores: dict, name: str
) -> None:
    """With the compressed level on, the stored bytes a read fetched are kept:
    the same read again asks the store only for the chunks it does not hold
    (the shard indexes are in the shard-index cache) and decodes the same
    values."""
    local, url = s3_stores[name]
    remote = fastchunk.open(url, storage_options=s3.storage_options())
    data = _data()
    sel = np.s_[3:9, :, 2:7]
    fastchunk.set_cache_size("64MB", compressed=True)
    try:
        np.testing.assert_array_equal(remote[sel], data[sel])
        kept = fastchunk.get_cache_info()["compressed"]
        assert kept["entries"] > 0, kept
        idx = [range(3, 9), range(SHAPE[1]), range(2, 7)]
        out = np.empty([len(i) for i in idx], dtype="f4")
        plan = remote._native.plan(idx, out.reshape(-1).view(np.uint8))
        for key, _offset, _length in plan.pending():
            assert not (local / key).exists(), key  # only chunks never written
            plan.provide_object(key, None)
        plan.finish()
        np.testing.assert_array_equal(out, data[sel])
        assert fastchunk.get_cache_info()["compressed"]["hits"] - kept["hits"] == kept["entries"]
    finally:
        fastchunk.set_cache_size(0, compressed=True)
        fastchunk.clear_cache(compressed=True)
