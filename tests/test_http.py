"""Public stores over plain HTTP: a loopback web server serving a directory
that zarr-python wrote, read through fastchunk.open("http://...")."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
import zarr

import fastchunk

pytest.importorskip("obstore")


@pytest.fixture
def web_root(tmp_path):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_public_http_store_reads_like_local(web_root, zarr_format):
    root, url = web_root
    rng = np.random.default_rng(5)
    data = rng.standard_normal((12, 5, 30)).astype("f4")
    data[4:6] = 0  # chunks equal to the fill value are not written: read as fill
    z = zarr.create_array(root / "a.zarr", shape=data.shape, chunks=(2, 5, 30), dtype="f4",
                          fill_value=0, zarr_format=zarr_format)
    z[:] = data
    a = fastchunk.open_array(f"{url}/a.zarr")
    assert a.store.local_root is None
    np.testing.assert_array_equal(a[...], data)
    idx = rng.permutation(12)
    np.testing.assert_array_equal(a.take(idx), data[idx])
    np.testing.assert_array_equal(a[[7, 1, 7], ::-2, 3:9], data[[7, 1, 7], ::-2, 3:9])


def test_public_http_group_with_consolidated_metadata(web_root):
    root, url = web_root
    g = zarr.open_group(root / "g.zarr", mode="w", zarr_format=2)
    x = g.create_array("x", shape=(6, 4), chunks=(3, 4), dtype="i4")
    x[:] = np.arange(24).reshape(6, 4)
    zarr.consolidate_metadata(root / "g.zarr")
    group = fastchunk.open_group(f"{url}/g.zarr")
    assert group.keys() == ["x"]
    np.testing.assert_array_equal(group["x"][...], np.arange(24).reshape(6, 4))


def test_missing_http_store_is_file_not_found(web_root):
    _root, url = web_root
    with pytest.raises(FileNotFoundError):
        fastchunk.open(f"{url}/nothing.zarr")


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_http_store_in_dataloader_workers(web_root, method):
    """ArrayDataset over a public http:// store in DataLoader workers, under
    every start method (forkserver is Python 3.14's default on Linux); under
    fork the parent has read first, so workers use the blocking client."""
    torch = pytest.importorskip("torch")
    from fastchunk.torch import ArrayDataset

    root, url = web_root
    data = np.random.default_rng(8).standard_normal((16, 3, 20)).astype("f4")
    z = zarr.create_array(root / "w.zarr", shape=data.shape, chunks=(1, 3, 20), dtype="f4",
                          zarr_format=3)
    z[:] = data
    ds = ArrayDataset(f"{url}/w.zarr", offsets=[0, 1])
    want = torch.from_numpy(np.stack([data[a : a + 2] for a in ds.anchors]))
    if method == "fork":
        assert torch.equal(ds[[0, 1]], want[:2])  # the parent reads (obstore) before forking
    loader = ds.dataloader(4, shuffle=False, num_workers=2, multiprocessing_context=method,
                           timeout=120)
    assert torch.equal(torch.cat(list(loader)), want)
