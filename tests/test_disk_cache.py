"""The disk cache of remote objects over a real SeaweedFS server. Requests
are counted where they reach the server (a loopback proxy logs each one), not
by fastchunk's own counters, which are checked against them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastchunk
from fastchunk import cache as shared
from tests import s3_server  # noqa: E402
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: E402, F401 - fixture "s3_stores"

try:
    from tests.gcs_server import gcs as _gcs_fixture  # noqa: F401 - fixture "gcs"
    from tests.gcs_server import gcs_stores as _gcs_stores_fixture  # noqa: F401 - fixture "gcs_stores"
except ImportError:  # pragma: no cover - gcs_server needs its own test extras
    pass

zarr = pytest.importorskip("zarr")
obstore = pytest.importorskip("obstore")

from fastchunk.store.disk_cache import METADATA_NAMES  # noqa: E402

ARRAYS = ["v2", "v3", "v3_sharded", "v3_shard_index_start"]


@pytest.fixture(autouse=True)
def _no_cache_left_behind(tmp_path: Path) -> Iterator[None]:
    """Disk caches live under tmp_path: removed after each test."""
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def proxy(s3: s3_server.S3Server) -> Iterator[s3_server.LatencyProxy]:
    """A pass-through proxy in front of the server that logs every request."""
    p = s3_server.LatencyProxy(int(s3.endpoint.rsplit(":", 1)[1]), 0.0).start()
    yield p
    p.stop()


@pytest.fixture
def cache_name() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    shared.remove_shared_cache(name)


def chunk_requests(p: s3_server.LatencyProxy) -> Counter[str]:
    """Requests for anything but metadata documents, by method ("GET", "HEAD")."""
    return Counter(r.method for r in p.requests if r.path.rsplit("/", 1)[-1] not in METADATA_NAMES)


def open_remote(
    s3: s3_server.S3Server, p: s3_server.LatencyProxy, url: str, cache_dir: Path, **opts: Any
) -> Any:
    options = s3.storage_options(endpoint_url=p.endpoint, cache_dir=str(cache_dir), **opts)
    return fastchunk.open(url, storage_options=options)


def epoch(a: Any) -> None:
    data = s3_server.test_data()
    np.testing.assert_array_equal(a[...], data)
    rows = np.random.default_rng(0).permutation(data.shape[0])[:9]
    np.testing.assert_array_equal(a.take(rows), data[rows])
    np.testing.assert_array_equal(a[3:30:4, 1, ::-2], data[3:30:4, 1, ::-2])


@pytest.mark.parametrize("name", ARRAYS)
def test_epoch_two_makes_no_get_for_chunk_objects(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path,
    name: str,
) -> None:  # fmt: skip
    url = s3_stores[name][1]
    cache = tmp_path / "disk"
    a = open_remote(s3, proxy, url, cache, cache_size="50MB")
    proxy.requests.clear()
    epoch(a)
    first = chunk_requests(proxy)
    assert first["GET"] > 0 and first["HEAD"] <= 3  # HEADs: sizes of index-first shards
    objects = a.store.disk_cache.stats()["entries"]
    # fastchunk's own counters agree with the server's log.
    counts = a.store.request_counts()
    assert counts["get"] + counts["get_range"] + counts["get_suffix"] >= first["GET"]

    proxy.requests.clear()
    epoch(a)  # epoch 2, same process: nothing at all
    assert chunk_requests(proxy) == Counter()

    # A restarted job ("once"): one HEAD per cached object it touches, no GET.
    b = open_remote(s3, proxy, url, cache)
    proxy.requests.clear()
    epoch(b)
    epoch(b)
    again = chunk_requests(proxy)
    assert again["GET"] == 0, again
    assert 0 < again["HEAD"] <= objects
    assert b.store.request_counts()["head"] == again["HEAD"]

    # Immutable data ("never"): no request at all.
    c = open_remote(s3, proxy, url, cache, cache_check="never")
    proxy.requests.clear()
    epoch(c)
    assert chunk_requests(proxy) == Counter()


def test_streamed_reads_go_through_the_disk_cache(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    """More objects than requests in flight: decoding starts as objects arrive
    (iter_many), from the server in epoch 1 and from disk in epoch 2."""
    a = open_remote(s3, proxy, s3_stores["v2"][1], tmp_path / "disk", concurrency=2)
    proxy.requests.clear()
    epoch(a)
    assert chunk_requests(proxy)["GET"] > 0
    proxy.requests.clear()
    epoch(a)
    assert chunk_requests(proxy) == Counter()


def test_restarted_process_reads_nothing_remote(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    url = s3_stores["v3"][1]
    cache = tmp_path / "disk"
    epoch(open_remote(s3, proxy, url, cache))
    proxy.requests.clear()
    script = (
        "import sys, numpy as np, fastchunk; sys.path.insert(0, sys.argv[2]);"
        "import s3_server; opts = eval(sys.argv[3]);"
        "a = fastchunk.open(sys.argv[1], storage_options=opts);"
        "assert np.array_equal(a[...], s3_server.test_data())"
    )
    opts = s3.storage_options(endpoint_url=proxy.endpoint)
    env = dict(os.environ, FASTCHUNK_CACHE_DIR=str(cache), FASTCHUNK_CACHE_CHECK="never")
    subprocess.run(
        [sys.executable, "-c", script, url, os.path.dirname(__file__), repr(opts)],
        env=env, check=True, timeout=120,
    )  # fmt: skip
    assert chunk_requests(proxy) == Counter()


def test_corrupt_or_truncated_cache_file_is_dropped_and_refetched(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    url = s3_stores["v3"][1]
    cache = tmp_path / "disk"
    a = open_remote(s3, proxy, url, cache)
    epoch(a)
    files = sorted(
        (e for e in os.scandir(cache / "entries") if e.stat().st_size > 200),
        key=lambda e: e.name,
    )
    corrupt, truncated = Path(files[0].path), Path(files[1].path)
    raw = bytearray(corrupt.read_bytes())
    raw[-5] ^= 0xFF  # one bit pattern in the object's bytes: only the checksum sees it
    corrupt.write_bytes(bytes(raw))
    os.truncate(truncated, truncated.stat().st_size - 7)
    dropped = a.store.disk_cache.stats()["dropped"]
    proxy.requests.clear()
    epoch(a)
    assert a.store.disk_cache.stats()["dropped"] == dropped + 2
    assert chunk_requests(proxy) == Counter({"GET": 2})  # fetched again, once each
    proxy.requests.clear()
    epoch(a)
    assert chunk_requests(proxy) == Counter()  # and cached again


def _private_store(s3: s3_server.S3Server, tmp_path: Path, data: np.ndarray) -> tuple[str, str]:
    """A small zstd store uploaded under a fresh prefix: (url, prefix)."""
    local = tmp_path / f"{uuid.uuid4().hex}.zarr"
    z = zarr.create_array(str(local), shape=data.shape, chunks=(1, data.shape[1]), dtype="f4")
    z[...] = data
    prefix = f"cascade/{uuid.uuid4().hex}/x.zarr"
    s3.upload_dir(local, prefix)
    return f"s3://{s3.bucket}/{prefix}", prefix


def _rewrite_row(s3: s3_server.S3Server, prefix: str, tmp_path: Path, row: np.ndarray) -> None:
    """Writes chunk c/2/0 anew on the server with the bytes zarr gives `row`."""
    local = tmp_path / f"{uuid.uuid4().hex}.zarr"
    z = zarr.create_array(str(local), shape=(6, row.size), chunks=(1, row.size), dtype="f4")
    z[2] = row
    obstore.put(s3.obstore(), f"{prefix}/c/2/0", (local / "c" / "2" / "0").read_bytes())


def test_rewrites_on_s3_follow_the_cache_check_policy(
    s3: s3_server.S3Server, proxy: s3_server.LatencyProxy, tmp_path: Path, cache_name: str
) -> None:
    data = np.random.default_rng(5).standard_normal((6, 400)).astype("f4")
    url, prefix = _private_store(s3, tmp_path, data)
    fastchunk.set_cache_size("8MB", shared=cache_name)  # the decoded level too
    stores = {
        check: open_remote(s3, proxy, url, tmp_path / check, cache_check=check)
        for check in ("once", "always", "never")
    }
    for a in stores.values():
        np.testing.assert_array_equal(a[...], data)
    new = data.copy()
    new[2] = np.arange(400, dtype="f4")
    _rewrite_row(s3, prefix, tmp_path, new[2])

    # "always": the next read asks (a HEAD per object) and fetches the new one.
    proxy.requests.clear()
    np.testing.assert_array_equal(stores["always"][...], new)
    assert chunk_requests(proxy) == Counter({"HEAD": 6, "GET": 1})
    # "once": a store keeps the versions it learned; one opened after the
    # rewrite learns the new one (a HEAD per object) and fetches it.
    proxy.requests.clear()
    np.testing.assert_array_equal(stores["once"][...], data)
    assert chunk_requests(proxy) == Counter()
    np.testing.assert_array_equal(open_remote(s3, proxy, url, tmp_path / "once")[...], new)
    assert chunk_requests(proxy) == Counter({"HEAD": 6, "GET": 1})
    # "never": what is on disk is served as it is, by any store.
    reopened = open_remote(s3, proxy, url, tmp_path / "never", cache_check="never")
    np.testing.assert_array_equal(reopened[...], data)

    # Without a disk cache every read asks the server: the decoded level keys
    # on the ETag each response carries, so a rewrite is seen at once.
    plain = fastchunk.open(url, storage_options=s3.storage_options())
    np.testing.assert_array_equal(plain[...], new)
    inserts = fastchunk.get_cache_info(shared=cache_name)["inserts"]
    np.testing.assert_array_equal(plain[...], new)
    newer = new.copy()
    newer[2] = -np.arange(400, dtype="f4")
    _rewrite_row(s3, prefix, tmp_path, newer[2])
    np.testing.assert_array_equal(plain[...], newer)
    assert fastchunk.get_cache_info(shared=cache_name)["inserts"] == inserts + 1


def test_two_endpoints_with_the_same_keys_never_share(
    s3: s3_server.S3Server, tmp_path: Path, cache_name: str
) -> None:
    other = s3_server.start_server(tmp_path / "second")
    try:
        one = np.random.default_rng(1).standard_normal((6, 300)).astype("f4")
        two = np.random.default_rng(2).standard_normal((6, 300)).astype("f4")
        local = {}
        for tag, arr in (("one", one), ("two", two)):
            path = tmp_path / f"{tag}.zarr"
            z = zarr.create_array(str(path), shape=arr.shape, chunks=(1, 300), dtype="f4")
            z[...] = arr
            local[tag] = path
        s3.upload_dir(local["one"], "same/key.zarr")
        other.upload_dir(local["two"], "same/key.zarr")
        cache = tmp_path / "disk"
        fastchunk.set_cache_size("8MB", shared=cache_name)
        url = f"s3://{s3.bucket}/same/key.zarr"
        for _ in range(2):
            for server, expected in ((s3, one), (other, two)):
                opts = server.storage_options(cache_dir=str(cache), cache_check="never")
                a = fastchunk.open(url, storage_options=opts)
                np.testing.assert_array_equal(a[...], expected)
                np.testing.assert_array_equal(a[...], expected)
        assert a.store.disk_cache.stats()["entries"] == 12
        assert fastchunk.get_cache_info(shared=cache_name)["entries"] == 12
    finally:
        other.stop()


def test_disk_budget_holds(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    cache = tmp_path / "disk"
    a = open_remote(s3, proxy, s3_stores["v2"][1], cache, cache_size="8KB")
    for _ in range(2):
        epoch(a)
        st = a.store.disk_cache.stats()
        on_disk = sum(e.stat().st_size for e in os.scandir(cache / "entries"))
        assert st["used"] == on_disk <= 8000
    assert st["evictions"] > 0


def _ranged_gets(p: s3_server.LatencyProxy) -> list[tuple[int, int]]:
    """(first, last) byte of each ranged GET of chunk bytes (not suffixes)."""
    out = []
    for r in p.requests:
        if r.method == "GET" and r.byte_range.startswith("bytes=") and "-" in r.byte_range[6:]:
            first, last = r.byte_range[6:].split("-", 1)
            if first:
                out.append((int(first), int(last)))
    return out


def test_shard_chunks_are_kept_alike_whatever_batch_reads_them(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    """Reads through a disk cache ask for each inner chunk of a shard on its
    own, so a batch whose chunks neighbour differently from those of the
    batches that filled the cache still finds them, in any process; the
    chunks it lacks are fetched in one coalesced request."""
    url, data = s3_stores["v3_sharded"][1], s3_server.test_data()
    cache = tmp_path / "disk"
    a = open_remote(s3, proxy, url, cache)
    proxy.requests.clear()
    # Shard 2 holds rows 32-47, inner chunks of 4 rows by 25 columns.
    np.testing.assert_array_equal(a[32:36], data[32:36])
    np.testing.assert_array_equal(a[40:44], data[40:44])
    filled = _ranged_gets(proxy)
    assert len(filled) == 2  # one request per batch: the chunks coalesced

    # Rows 32-43: the cached chunks are found, the others fetched in one request.
    b = open_remote(s3, proxy, url, cache)
    proxy.requests.clear()
    np.testing.assert_array_equal(b[32:44], data[32:44])
    (first, last), = _ranged_gets(proxy)
    span = max(e for _, e in filled) - min(s for s, _ in filled) + 1
    assert last - first + 1 < span  # not the whole range again
    assert chunk_requests(proxy)["GET"] == 1

    # Now every chunk of those rows is on disk, however a read groups them.
    c = open_remote(s3, proxy, url, cache)
    proxy.requests.clear()
    np.testing.assert_array_equal(c[32:44], data[32:44])
    np.testing.assert_array_equal(c[36:40, :, 25:], data[36:40, :, 25:])
    np.testing.assert_array_equal(c[np.array([43, 32, 36])], data[[43, 32, 36]])
    assert chunk_requests(proxy)["GET"] == 0


def test_missing_ranges_coalesce_into_requests() -> None:
    from fastchunk.store.disk_cache import COALESCE_GAP, coalesce

    asked = [("k", 100, 10), ("j", 0, 5), ("k", 0, 50), ("k", 111 + COALESCE_GAP, 5),
             ("k", 50, 10)]  # fmt: skip
    spans = coalesce(asked)
    assert [s for s, _ in spans] == [("j", 0, 5), ("k", 0, 110), ("k", 111 + COALESCE_GAP, 5)]
    for (key, start, _), parts in spans:
        for i, (offset, size) in parts:
            assert asked[i] == (key, start + offset, size)
    assert sorted(i for _, parts in spans for i, _ in parts) == list(range(len(asked)))


def test_cache_options_are_checked(s3: s3_server.S3Server, s3_stores: dict) -> None:
    with pytest.raises(ValueError, match="cache_check"):
        fastchunk.open(s3_stores["v3"][1], storage_options=s3.storage_options(
            cache_dir="/tmp/x", cache_check="sometimes"))  # fmt: skip
    with pytest.raises(ValueError, match="byte count"):
        fastchunk.open(s3_stores["v3"][1], storage_options=s3.storage_options(
            cache_dir="/tmp/x", cache_size="lots"))  # fmt: skip


def test_cli_shows_and_clears_a_disk_cache(
    s3: s3_server.S3Server, s3_stores: dict, proxy: s3_server.LatencyProxy, tmp_path: Path
) -> None:
    from fastchunk.tools.cli import main

    cache = tmp_path / "disk"
    epoch(open_remote(s3, proxy, s3_stores["v3"][1], cache))
    assert main(["cache", "--dir", str(cache)]) == 0
    assert main(["cache", "clear", "--dir", str(cache)]) == 0
    assert fastchunk._core.FileCache(str(cache), existing=True).stats()["entries"] == 0
    assert main(["cache", "remove", "--dir", str(cache)]) == 0
    assert not cache.exists()


@pytest.mark.parametrize("client", ["obstore", "blocking"])
def test_gcs_epoch_two_reads_from_disk(tmp_path: Path, client: str, request: Any) -> None:
    """gs:// through the disk cache, with either client (counted by fastchunk:
    the fake GCS server sits behind its own gate, not the logging proxy)."""
    pytest.importorskip("tests.gcs_server")
    gcs = request.getfixturevalue("gcs")
    gcs_stores = request.getfixturevalue("gcs_stores")
    url = gcs_stores["v3_sharded"][1]

    def opened() -> Any:
        a = fastchunk.open(url, storage_options=gcs.storage_options(cache_dir=str(tmp_path)))
        if client == "blocking":
            from fastchunk.store.disk_cache import DiskCachedEngine
            from fastchunk.store.gcs_client import GCSEngine

            st = a.store
            inner = GCSEngine(st._opts)
            st._engine_obj = DiskCachedEngine(inner, st.disk_cache, st.store_id, "once")
        return a

    def gets(counts: dict[str, int]) -> int:
        return counts["get"] + counts["get_range"] + counts["get_suffix"]

    a = opened()
    epoch(a)
    first = a.store.request_counts()
    assert gets(first) > 0
    epoch(a)
    assert a.store.request_counts() == first
    b = opened()
    before = b.store.request_counts()
    epoch(b)
    after = b.store.request_counts()
    assert gets(after) == gets(before) and after["head"] > before["head"]
