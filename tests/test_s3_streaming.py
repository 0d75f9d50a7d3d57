"""Remote reads of many chunks decode while later objects are in flight; the
answers must not depend on arrival order or on what the chunk cache holds."""

from __future__ import annotations

import numpy as np
import pytest

import fastchunk
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"
from tests.s3_server import s3_stores as _s3_stores_fixture  # noqa: E402, F401 - fixture "s3_stores"

pytestmark = pytest.mark.usefixtures("cache_off")


@pytest.mark.parametrize("name", ["v2", "v3"])
def test_streamed_read_equals_local_with_partly_warm_cache(s3, s3_stores, name, monkeypatch):
    from fastchunk.store import serve

    streamed = []
    original = serve._stream

    def spy(plan, store, requests, concurrency):
        streamed.append(len(requests))
        return original(plan, store, requests, concurrency)

    monkeypatch.setattr(serve, "_stream", spy)
    local_path, url = s3_stores[name]
    local = fastchunk.open(str(local_path))[...]
    remote = fastchunk.open(url, storage_options=s3.storage_options())
    nkeys = len(remote._native.plan([np.arange(n) for n in remote.shape]).keys())
    assert nkeys > remote.store.concurrency // 4
    remote.store._opts.concurrency = 4  # several rounds of requests: the streaming path
    np.testing.assert_array_equal(remote[...], local)

    fastchunk.set_cache_size("64MB")
    rng = np.random.default_rng(1)
    warm = rng.permutation(remote.shape[0])[:10]
    np.testing.assert_array_equal(remote.take(warm), local[warm])
    hits = fastchunk.get_cache_info()["hits"]
    for _ in range(3):
        idx = rng.permutation(remote.shape[0])
        np.testing.assert_array_equal(remote.take(idx), local[idx])
        np.testing.assert_array_equal(remote[::-1, :, 3:40], local[::-1, :, 3:40])
    assert fastchunk.get_cache_info()["hits"] > hits
    assert any(streamed)


def test_iter_many_yields_every_key_once(s3, s3_stores):
    _local, url = s3_stores["v3"]
    remote = fastchunk.open(url, storage_options=s3.storage_options())
    keys = remote._native.plan([np.arange(n) for n in remote.shape]).keys()
    keys.append(remote.path + "c/999/0/0")  # absent: reads as None
    got = dict(remote.store.iter_many(keys))
    assert sorted(got) == sorted(set(keys))
    assert got[keys[-1]] is None
    expected = remote.store.get_many(keys)
    for key in keys:
        if expected[key] is None:
            assert got[key] is None, key
        else:
            assert bytes(got[key]) == bytes(expected[key]), key
    assert sum(v is None for v in got.values()) >= 2  # chunks equal to the fill are not written
