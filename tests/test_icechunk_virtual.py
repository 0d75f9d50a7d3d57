"""Icechunk virtual chunks (byte ranges of NetCDF4 files written by xarray)
and Icechunk repositories in object storage, over a real SeaweedFS server
(and fake-gcs-server):
virtual references into local files and into S3 objects, read equal to
Icechunk + zarr-python; the reference's condition (ETag or last-modified)
checked on the answer that carried the bytes, a clear error when the file
changed; locations read only under authorized prefixes; reads of a remote
repository coalesced per object."""

from __future__ import annotations

import datetime
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from tests.icechunk_repos import (
    array_paths,
    file_url,
    icechunk,
    icechunk_group,
    local_etag,
    require,
    write_history,
    write_netcdf,
    write_virtual_repo,
)
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"

try:
    from tests.gcs_server import gcs as _gcs_fixture  # noqa: F401 - fixture "gcs"
except ImportError:  # pragma: no cover - gcs_server needs its own test extras
    pass

ic = icechunk()
require("h5py")
require("h5netcdf")


def _compare(path: Path, authorize_ic: dict[str, Any], authorize_fc: dict[str, Any],
             data: dict[str, Any]) -> Any:
    theirs = icechunk_group(path, authorize_ic)
    ours = fastchunk.open(path, authorize_virtual_chunk_access=authorize_fc)
    for name in ("t", "u"):
        np.testing.assert_array_equal(theirs[name][...], data[name])
        np.testing.assert_array_equal(ours[name][...], data[name])
        np.testing.assert_array_equal(ours[name][1::2], data[name][1::2])
        idx = np.array([3, 0, 3, 1])
        np.testing.assert_array_equal(ours[name].take(idx), data[name][idx])
    return ours


# ---------------------------------------------------------------- local files


@pytest.mark.parametrize("checksum", ["etag", "modified", "none"])
def test_virtual_chunks_in_local_files(tmp_path: Path, checksum: str) -> None:
    data_dir = tmp_path / "archive dir"
    data_dir.mkdir()
    nc = data_dir / "era5 2020.nc"
    data = write_netcdf(nc, np.random.default_rng(3))
    prefix = file_url(tmp_path) + "/"  # (Icechunk's prefixes cannot hold %20)
    write_virtual_repo(tmp_path / "repo", data, file_url(nc),
                       ic.local_filesystem_store(str(tmp_path)), prefix, {prefix: None},
                       checksum=checksum, etag=local_etag(nc))  # fmt: skip
    ours = _compare(tmp_path / "repo", {prefix: None}, {prefix: None}, data)
    refs = ours.store.array_refs("t")[1]
    assert [(v, bool(e), bool(m)) for _, v, e, m in refs.targets()] == [
        (True, checksum == "etag", checksum == "modified")]
    # Unauthorized: a clear error naming the location, never a read.
    with pytest.raises(OSError, match="not authorized"):
        fastchunk.open(tmp_path / "repo")["t"][0]
    with pytest.raises(OSError, match="not authorized"):
        fastchunk.open(tmp_path / "repo",
                       authorize_virtual_chunk_access={file_url(tmp_path / "other") + "/": None}
                       )["u"][...]  # fmt: skip


def test_changed_local_file_is_an_error_not_changed_bytes(tmp_path: Path) -> None:
    nc = tmp_path / "data.nc"
    data = write_netcdf(nc, np.random.default_rng(4))
    prefix = file_url(tmp_path) + "/"
    for checksum in ("etag", "modified"):
        repo = tmp_path / f"repo-{checksum}"
        ref_time = datetime.datetime.fromtimestamp(int(os.stat(nc).st_mtime) + 1,
                                                   datetime.timezone.utc)  # fmt: skip
        write_virtual_repo(repo, data, file_url(nc), ic.local_filesystem_store(str(tmp_path)),
                           prefix, {prefix: None}, checksum="etag", etag=local_etag(nc))
        if checksum == "modified":  # rewrite the references with a time condition
            r = ic.Repository.open(ic.local_filesystem_storage(str(repo)),
                                   authorize_virtual_chunk_access=ic.containers_credentials(
                                       {prefix: None}))  # fmt: skip
            s = r.writable_session("main")
            for name in ("t", "u"):
                for index, offset, size in data[name + "_chunks"][1]:
                    key = f"{name}/c/" + "/".join(map(str, index))
                    s.store.set_virtual_ref(key, file_url(nc), offset=offset, length=size,
                                            checksum=ref_time)
            s.commit("time condition")
        np.testing.assert_array_equal(
            fastchunk.open(repo, authorize_virtual_chunk_access={prefix: None})["u"][...],
            data["u"])
    # The file is rewritten in place with other values, 2 s later.
    time.sleep(2.1)
    raw = bytearray(nc.read_bytes())
    offset, size = data["u_chunks"][1][0][1:]
    raw[offset:offset + size] = bytes(size)
    nc.write_bytes(bytes(raw))
    for checksum in ("etag", "modified"):
        repo = tmp_path / f"repo-{checksum}"
        fastchunk.clear_cache()
        match = "ETag" if checksum == "etag" else "modified at"
        with pytest.raises(fastchunk.ChunkDecodeError, match=f"chunk 'u/c/.*{match}"):
            fastchunk.open(repo, authorize_virtual_chunk_access={prefix: None})["u"][...]
        with pytest.raises(Exception):  # noqa: B017 - Icechunk refuses too
            icechunk_group(repo, {prefix: None})["u"][...]


def test_virtual_locations_with_dot_segments_are_refused(tmp_path: Path) -> None:
    access = fastchunk.icechunk.VirtualAccess({"file:///data/": None, "s3://bucket/a": {}})
    assert access.allowed("file:///data/x.nc") and access.allowed("s3://bucket/a/b.nc")
    assert not access.allowed("file:///data/../etc/passwd")
    assert not access.allowed("file:///data/%2e%2e/etc/passwd")
    assert not access.allowed("s3://bucket/ab/c.nc") and not access.allowed("s3://bucket2/a/x")
    assert not access.allowed("ftp://host/x")


# ---------------------------------------------------------------- S3


@pytest.fixture
def bucket_prefix() -> str:
    return f"icechunk-{uuid.uuid4().hex[:8]}"


def _s3_container(s3: Any) -> Any:
    return ic.s3_store(region=s3.region, endpoint_url=s3.endpoint, allow_http=True,
                       s3_compatible=True, force_path_style=True)  # fmt: skip


def _s3_credentials(s3: Any) -> Any:
    return ic.s3_credentials(access_key_id=s3.access_key, secret_access_key=s3.secret_key)


def test_virtual_chunks_in_s3_objects(s3: Any, tmp_path: Path, bucket_prefix: str) -> None:
    import obstore

    nc = tmp_path / "data.nc"
    data = write_netcdf(nc, np.random.default_rng(5))
    store = s3.obstore()
    key = f"{bucket_prefix}/netcdf/data.nc"
    obstore.put(store, key, nc.read_bytes())
    etag = obstore.head(store, key)["e_tag"]
    prefix = f"s3://{s3.bucket}/{bucket_prefix}/"
    url = f"s3://{s3.bucket}/{key}"
    repo = tmp_path / "repo"
    write_virtual_repo(repo, data, url, _s3_container(s3), prefix,
                       {prefix: _s3_credentials(s3)}, checksum="etag", etag=etag)
    ours = _compare(repo, {prefix: _s3_credentials(s3)}, {prefix: s3.storage_options()}, data)
    # The 12 chunks of "u" lie one after the other in the file: one request.
    fresh = fastchunk.open(repo, authorize_virtual_chunk_access={prefix: s3.storage_options()})
    np.testing.assert_array_equal(fresh["u"][...], data["u"])
    (remote,) = fresh.store.virtual._stores.values()
    assert remote.request_counts()["get_range"] == 1
    assert ours.store.virtual.prefixes == [prefix]
    # Rewritten object: its ETag changed; the bytes are refused.
    raw = bytearray(nc.read_bytes())
    offset, size = data["u_chunks"][1][0][1:]
    raw[offset:offset + size] = bytes(size)
    obstore.put(store, key, bytes(raw))
    with pytest.raises(fastchunk.ChunkDecodeError, match="ETag"):
        fastchunk.open(repo, authorize_virtual_chunk_access={prefix: s3.storage_options()}
                       )["u"][...]  # fmt: skip


def test_last_modified_condition_on_s3(s3: Any, tmp_path: Path, bucket_prefix: str) -> None:
    import obstore

    nc = tmp_path / "data.nc"
    data = write_netcdf(nc, np.random.default_rng(6))
    store = s3.obstore()
    key = f"{bucket_prefix}/data.nc"
    obstore.put(store, key, nc.read_bytes())
    written = obstore.head(store, key)["last_modified"]
    prefix = f"s3://{s3.bucket}/{bucket_prefix}/"
    repo = tmp_path / "repo"
    write_virtual_repo(repo, data, f"s3://{s3.bucket}/{key}", _s3_container(s3), prefix,
                       {prefix: _s3_credentials(s3)}, checksum="none")
    r = ic.Repository.open(ic.local_filesystem_storage(str(repo)),
                           authorize_virtual_chunk_access=ic.containers_credentials(
                               {prefix: _s3_credentials(s3)}))  # fmt: skip
    s = r.writable_session("main")
    for index, offset, size in data["u_chunks"][1]:
        s.store.set_virtual_ref("u/c/" + "/".join(map(str, index)), f"s3://{s3.bucket}/{key}",
                                offset=offset, length=size, checksum=written)
    s.commit("time condition")
    authorize = {prefix: s3.storage_options()}
    np.testing.assert_array_equal(
        fastchunk.open(repo, authorize_virtual_chunk_access=authorize)["u"][...], data["u"])
    time.sleep(1.1)
    obstore.put(store, key, nc.read_bytes())  # same bytes, later time: refused, as Icechunk does
    with pytest.raises(fastchunk.ChunkDecodeError, match="modified at"):
        fastchunk.open(repo, authorize_virtual_chunk_access=authorize)["u"][...]


def test_stamps_from_every_s3_client(s3: Any, bucket_prefix: str) -> None:
    """botocore (forked workers) and obstore stamp a range with the same
    ETag and Last-Modified."""
    import obstore

    from fastchunk.store.boto_client import BotoEngine
    from fastchunk.store.obstore_client import ObstoreEngine
    from fastchunk.store.options import RemoteOptions

    key = f"{bucket_prefix}/blob"
    obstore.put(s3.obstore(), key, bytes(range(200)))
    head = obstore.head(s3.obstore(), key)
    opts = RemoteOptions(f"s3://{s3.bucket}", s3.storage_options())
    for engine in (BotoEngine(opts), ObstoreEngine(opts)):
        [(blob, stamp)] = engine.get_ranges_stamped([(key, 10, 5)])
        assert bytes(blob) == bytes(range(10, 15))
        assert stamp.etag.strip('"') == head["e_tag"].strip('"')
        assert abs(stamp.last_modified - head["last_modified"].timestamp()) < 1
        assert engine.get_ranges_stamped([(key + "-missing", 0, 1)]) == [None]


def test_repository_in_s3(s3: Any, tmp_path: Path, bucket_prefix: str) -> None:
    """A whole repository in a bucket: every ref equal to Icechunk's local
    read; reads through the read plans, inner chunks of a shard coalesced."""
    history = write_history(tmp_path / "history")
    s3.upload_dir(history.path, f"{bucket_prefix}/history")
    url = f"s3://{s3.bucket}/{bucket_prefix}/history"
    opts = s3.storage_options()
    for ref in ({}, {"tag": "v1"}, {"branch": "dev"}):
        ours = fastchunk.open(url, storage_options=opts, **ref)
        theirs = icechunk_group(history.path, **ref)
        assert ours.store.store_id.startswith("icechunk:s3://")
        for path in array_paths(theirs):
            np.testing.assert_array_equal(np.asarray(ours[path][...]), theirs[path][...],
                                          err_msg=path)  # fmt: skip
    g = fastchunk.open(url, storage_options=opts)
    sharded = g["sharded"]
    repo_store = g.store.repo.store
    before = repo_store.request_counts()
    # One shard: its index is in the shard-index cache since the reads above
    # (keyed by snapshot), its six inner chunks come in one coalesced range.
    sharded[0:8, 0:24]
    after = repo_store.request_counts()
    assert after["get_range"] - before["get_range"] == 1
    # More chunk objects than one round of requests: streamed, round by round.
    streamed = fastchunk.open(url, storage_options=dict(opts, concurrency=3))["temp"]
    np.testing.assert_array_equal(streamed[...], icechunk_group(history.path)["temp"][...])
    assert streamed.store.repo.store.request_counts()["get_range"] >= 6
    # Pickled: reopened from the URL in the same snapshot.
    import pickle

    again = pickle.loads(pickle.dumps(sharded))
    np.testing.assert_array_equal(again[...], sharded[...])
    # Through a disk cache: a commit uploaded later is seen by a store opened
    # later (the refs are never cached), the old snapshot still reads.
    import zarr

    cached = dict(opts, cache_dir=str(tmp_path / "disk"), cache_check="never")
    before = fastchunk.open(url, storage_options=cached)["small"][...]
    repo = ic.Repository.open(ic.local_filesystem_storage(str(history.path)))
    s = repo.writable_session("main")
    zarr.open_group(s.store)["small"][:] = 42
    s.commit("later")
    s3.upload_dir(history.path, f"{bucket_prefix}/history")
    np.testing.assert_array_equal(fastchunk.open(url, storage_options=cached)["small"][...], 42)
    old = fastchunk.open(url, storage_options=cached, snapshot=history.snapshots["grow"])
    np.testing.assert_array_equal(old["small"][...], before)
    shutil.rmtree(tmp_path / "history")


def test_hostile_references_in_s3(s3: Any, tmp_path: Path, bucket_prefix: str) -> None:
    """A chunk object shorter than its reference, or missing: a clear error."""
    import obstore

    history = write_history(tmp_path / "history")
    s3.upload_dir(history.path, f"{bucket_prefix}/history")
    url = f"s3://{s3.bucket}/{bucket_prefix}/history"
    g = fastchunk.open(url, storage_options=s3.storage_options())
    (location, _v, _e, _m), *_ = [t for t in g.store.array_refs("temp")[1].targets() if not t[1]]
    key = f"{bucket_prefix}/history/{location}"
    store = s3.obstore()
    whole = bytes(obstore.get(store, key).bytes())
    obstore.put(store, key, whole[:10])
    with pytest.raises(fastchunk.ChunkDecodeError, match="shorter than its references say"):
        fastchunk.open(url, storage_options=s3.storage_options())["temp"][...]
    obstore.delete(store, key)
    with pytest.raises(fastchunk.ChunkDecodeError, match="does not exist"):
        fastchunk.open(url, storage_options=s3.storage_options())["temp"][...]


def test_repository_in_gcs(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """A repository in a gs:// bucket (fake-gcs-server), through obstore and
    through the blocking client forked workers use."""
    gcs = request.getfixturevalue("gcs")
    history = write_history(tmp_path / "history")
    prefix = f"icechunk-{uuid.uuid4().hex[:8]}"
    gcs.upload_dir(history.path, f"{prefix}/history")
    url = f"gs://{gcs.bucket}/{prefix}/history"
    theirs = icechunk_group(history.path, tag="v1")
    for client in ("obstore", "blocking"):
        ours = fastchunk.open(url, storage_options=gcs.storage_options(), tag="v1")
        if client == "blocking":
            from fastchunk.store.gcs_client import GCSEngine

            store = ours.store.repo.store
            store._engine_obj = GCSEngine(store._opts)
            store._engine_pid = os.getpid()
        for path in array_paths(theirs):
            np.testing.assert_array_equal(np.asarray(ours[path][...]), theirs[path][...],
                                          err_msg=f"{client} {path}")  # fmt: skip


def test_loader_fetches_ahead_from_a_repository_in_s3(s3: Any, tmp_path: Path,
                                                      bucket_prefix: str) -> None:  # fmt: skip
    """The Loader's fetch-ahead (epoch 1 from object stores) through a
    snapshot: the chunk objects of the next batches wait in the repository
    store's ahead buffer, and no request is added (fewer are made: an object
    several batches need is fetched once)."""
    from fastchunk.torch import Loader

    history = write_history(tmp_path / "history")
    s3.upload_dir(history.path, f"{bucket_prefix}/history")
    url = f"s3://{s3.bucket}/{bucket_prefix}/history"
    want = icechunk_group(history.path)["temp"][...]
    counts = {}
    for budget in (0, 1 << 30):
        fastchunk._core.clear_shard_index_cache()
        array = fastchunk.open(url, storage_options=s3.storage_options())["temp"]
        repo_store = array.store.repo.store
        loader = Loader(array, batch_size=3, seed=4, pin_memory=False, prefetch_bytes=budget)
        for i, (batch, idx) in enumerate(zip(loader, loader.sampler.batches(0), strict=True)):
            np.testing.assert_array_equal(batch.numpy(), want[idx])
            if i == 1 and budget:
                assert repo_store.ahead_buffer()  # later batches' chunk objects wait there
        counts[budget] = repo_store.request_counts()["get_range"]
    # Nothing fetched twice: an object several batches need comes once.
    assert counts[1 << 30] < counts[0]
