"""The Loader fetches the stored bytes of the batches after the one decoding
from an object store (fastchunk.store.fetch_ahead), with a real SeaweedFS
server behind a loopback proxy that logs every request: the same batches as
from the local copy, no request the read would not make itself, ahead of the
consumer but within the byte budget, and nothing left behind when an epoch
is broken off. fake-gcs-server for gs://."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests import gcs_server, s3_server
from tests.gcs_server import gcs as _gcs_fixture  # noqa: F401 - fixture "gcs"
from tests.gcs_server import gcs_stores as _gcs_stores_fixture  # noqa: F401 - fixture "gcs_stores"
from tests.s3_server import s3 as _s3_fixture  # noqa: F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: F401 - fixture "s3_stores"

torch = pytest.importorskip("torch")

import fastchunk  # noqa: E402
from fastchunk.torch import Loader  # noqa: E402

ARRAYS = ["v2", "v3_sharded", "v3_shard_index_start"]


@pytest.fixture
def proxy(s3: s3_server.S3Server) -> Any:
    p = s3_server.LatencyProxy(int(s3.endpoint.rsplit(":", 1)[1]), 0.005).start()
    yield p
    p.stop()


def _chunk_requests(proxy: Any, url: str) -> Counter:
    """(method, path, ranged) of the requests for the store's chunk and shard
    objects (not its metadata)."""
    store = "/" + url.rsplit("/", 1)[-1] + "/"

    def chunk(path: str) -> bool:
        return store in path and ("/c/" in path or path.rsplit("/", 1)[-1][:1].isdigit())

    return Counter((r.method, r.path, r.ranged) for r in proxy.requests if chunk(r.path))


def _epoch(url: str, options: dict | None, **kw: Any) -> list[Any]:
    loader = Loader(url, batch_size=4, seed=3, storage_options=options, **kw)
    return [b.clone() for b in loader]


@pytest.mark.parametrize("name", ARRAYS)
def test_fetched_ahead_batches_are_the_local_ones_and_no_request_is_added(
    s3: s3_server.S3Server, s3_stores: dict, proxy: Any, name: str
) -> None:
    local_path, url = s3_stores[name]
    opts = s3.storage_options(endpoint_url=proxy.endpoint)
    want = _epoch(str(local_path), None)
    fastchunk._core.clear_shard_index_cache()
    proxy.requests.clear()
    plain = _epoch(url, opts, prefetch_bytes=0)
    without = _chunk_requests(proxy, url)
    fastchunk._core.clear_shard_index_cache()
    proxy.requests.clear()
    ahead = _epoch(url, opts)  # the default budget: the whole epoch fits
    with_ahead = _chunk_requests(proxy, url)
    for a, b, c in zip(want, plain, ahead, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    # Nothing the read would not ask for, and nothing twice: an object that
    # several of the batches fetched ahead need is fetched once for them.
    assert set(with_ahead) == set(without)
    assert all(n == 1 for n in with_ahead.values()) or name != "v2", with_ahead
    assert not with_ahead - without


def test_the_loader_fetches_ahead_of_a_slow_consumer_within_its_budget(
    s3: s3_server.S3Server, s3_stores: dict, proxy: Any
) -> None:
    # 24 chunk objects of 1.2 KB (4 dates x 3 x 25), up to 8 per batch of 4 dates
    _local, url = s3_stores["v2"]
    opts = s3.storage_options(endpoint_url=proxy.endpoint)
    store = fastchunk.open(url, storage_options=opts).store
    chunk = max(n for k, n in store.list_prefix("") if k.rsplit("/", 1)[-1][:1].isdigit())
    proxy.requests.clear()
    _epoch(url, opts, prefetch_bytes=0)
    objects = len(_chunk_requests(proxy, url))  # each asked by several batches

    def fetched_while_holding_the_first_batch(budget: int) -> int:
        loader = Loader(url, batch_size=4, seed=3, storage_options=opts, prefetch=1,
                        prefetch_bytes=budget)  # fmt: skip
        proxy.requests.clear()
        it = iter(loader)
        next(it)
        time.sleep(0.5)  # a slow training step: the loader works meanwhile
        got = sum(_chunk_requests(proxy, url).values())
        it.close()
        return got

    off = fetched_while_holding_the_first_batch(0)
    small = fetched_while_holding_the_first_batch(20 * chunk)
    large = fetched_while_holding_the_first_batch(1 << 30)
    # Without fetching ahead: the batch held and the one in the free slot.
    assert off <= 2 * 8
    # With a budget of twenty objects (the batch decoding counts in it): the
    # next batches' up to it, and none beyond (a read starts only when it fits).
    assert off < small <= off + 20, (off, small)
    # With room for the epoch: every object of the epoch, each once.
    assert large == objects


def test_breaking_off_an_epoch_leaves_nothing_fetched_and_no_thread(
    s3: s3_server.S3Server, s3_stores: dict, proxy: Any
) -> None:
    _local, url = s3_stores["v3_sharded"]
    loader = Loader(url, batch_size=4, seed=1,
                    storage_options=s3.storage_options(endpoint_url=proxy.endpoint))  # fmt: skip
    store = loader.dataset.array.store
    for i, _batch in enumerate(loader):
        if i == 1:
            assert store.ahead_buffer()  # answers wait for the next batches
            break
    assert not store.ahead_buffer()
    deadline = time.monotonic() + 10
    while any(t.name.startswith("fastchunk-ahead") for t in threading.enumerate()):
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.05)
    # Iterated again (the epoch broken off starts over), it reads as before.
    local = Loader(str(_local), batch_size=4, seed=1)
    for a, b in zip(loader, local, strict=True):
        assert torch.equal(a, b)


def test_a_failing_fetch_ahead_leaves_the_read_to_raise_its_own_error(
    s3: s3_server.S3Server, s3_stores: dict
) -> None:
    """A server gone mid-epoch: the batch read raises the store's clean
    error, never hangs on answers that will not come."""
    _local, url = s3_stores["v2"]
    p = s3_server.LatencyProxy(int(s3.endpoint.rsplit(":", 1)[1]), 0.02).start()
    opts = s3.storage_options(endpoint_url=p.endpoint, max_retries=1, retry_timeout=2,
                              connect_timeout=2, read_timeout=5)  # fmt: skip
    # Room for about two batches: the later ones are fetched after the stop.
    loader = Loader(url, batch_size=4, seed=3, storage_options=opts, prefetch=1,
                    prefetch_bytes=20 * 1200)  # fmt: skip
    it = iter(loader)
    next(it)
    p.stop()
    t0 = time.monotonic()
    with pytest.raises(fastchunk.FastchunkError) as failed:
        for _ in it:
            pass
    assert isinstance(failed.value, OSError)
    assert time.monotonic() - t0 < 60


@pytest.mark.parametrize("name", ["v2", "v3_sharded"])
def test_fetch_ahead_from_gcs_matches_local(
    gcs: gcs_server.GCSServer, gcs_stores: dict, name: str
) -> None:
    local_path, url = gcs_stores[name]
    want = _epoch(str(local_path), None)
    got = _epoch(url, gcs.storage_options())
    for a, b in zip(want, got, strict=True):
        assert torch.equal(a, b)


def test_windows_and_a_slice_of_the_grid_fetched_ahead_match_local(
    s3: s3_server.S3Server, s3_stores: dict, proxy: Any
) -> None:
    local_path, url = s3_stores["v3_sharded"]
    kw: dict[str, Any] = {"offsets": [-1, 0, 2], "select": {2: slice(5, 30)}, "dtype": "float16"}
    want = _epoch(str(local_path), None, **kw)
    got = _epoch(url, s3.storage_options(endpoint_url=proxy.endpoint), **kw)
    assert len(want) == len(got)
    for a, b in zip(want, got, strict=True):
        assert torch.equal(a, b)
