"""engine="fastchunk" against engine="zarr" (xr.testing.assert_identical)
on xarray datasets of the corpus the store tests use (tests/s3_server.py's
data: zarr v2, v3, v3 sharded with the index at the end and at the start,
nested groups), locally, over S3 (SeaweedFS), GCS (fake-gcs-server) and
http; every load one native read per variable; dask tasks of many chunks;
clear errors."""

from __future__ import annotations

import collections
import functools
import http.server
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

xr = pytest.importorskip("xarray")
zarr = pytest.importorskip("zarr")

import fastchunk  # noqa: E402
from fastchunk.array import Array  # noqa: E402
from fastchunk.xarray import preferred_chunks  # noqa: E402
from tests import gcs_server, s3_server  # noqa: E402
from tests.gcs_server import gcs as _gcs_fixture  # noqa: E402, F401 - fixture "gcs"
from tests.s3_server import s3 as _s3_fixture  # noqa: E402, F401 - fixture "s3"

VARIANTS = ["v2", "v3", "v3_sharded", "v3_shard_index_start"]
N_TIME, N_LEVEL, N_CELL = s3_server.SHAPE


def corpus_dataset() -> Any:
    """s3_server.test_data() as a dataset: a time coordinate (CF-encoded),
    packed values (scale_factor, add_offset, _FillValue), strings, booleans,
    a non-index coordinate and attributes."""
    data = s3_server.test_data()
    rng = np.random.default_rng(3)
    precip = np.round(rng.random((N_TIME, N_CELL)) * 50, 1)
    precip[5, :7] = np.nan
    time = np.datetime64("2020-01-01T00") + np.arange(N_TIME) * np.timedelta64(6, "h")
    ds = xr.Dataset(
        {
            "t2m": (("time", "level", "cell"), data, {"units": "K", "long_name": "temperature"}),
            "precip": (("time", "cell"), precip, {"units": "mm"}),
            "land": (("cell",), rng.random(N_CELL) > 0.5),
            "count": (("time",), np.arange(N_TIME, dtype="i4")),
        },
        coords={
            "time": time,
            "level": ("level", np.array([500, 850, 1000], dtype="i2")),
            "lat": (("cell",), np.linspace(-90, 90, N_CELL), {"units": "degrees_north"}),
            "station": (("cell",), np.array([f"s{i}" for i in range(N_CELL)])),
        },
        attrs={"title": "fastchunk xarray corpus", "version": 2},
    )
    ds["precip"].encoding.update(
        {"dtype": "i2", "scale_factor": 0.1, "add_offset": 0.0, "_FillValue": -1}
    )
    return ds


def _encoding(variant: str) -> dict[str, Any]:
    from zarr.codecs import BloscCodec, BytesCodec, ShardingCodec

    enc: dict[str, Any] = {"t2m": {"chunks": (4, 3, 25)}, "precip": {"chunks": (4, 25)}}
    if variant == "v3_sharded":
        enc["t2m"]["shards"] = (16, 3, 50)
        enc["precip"]["shards"] = (16, 50)
    elif variant == "v3_shard_index_start":
        enc["t2m"] = {
            "chunks": (16, 3, 50),
            "compressors": None,
            "serializer": ShardingCodec(chunk_shape=(4, 1, 25),
                                        codecs=[BytesCodec(), BloscCodec(cname="lz4")],
                                        index_location="start"),
        }
    return enc


def _with_encoding(ds: Any, variant: str) -> Any:
    ds = ds.copy()
    for name, enc in _encoding(variant).items():
        ds[name].encoding.update(enc)
    return ds


def write_corpus(root: Path) -> dict[str, Path]:
    """The corpus dataset in each variant, and a tree of nested groups (v2 and v3)."""
    ds = corpus_dataset()
    stores: dict[str, Path] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr's notes on v3 consolidated metadata, U dtypes
        for variant in VARIANTS:
            path = root / f"{variant}.zarr"
            _with_encoding(ds, variant).to_zarr(path, mode="w",
                                                zarr_format=2 if variant == "v2" else 3)
            stores[variant] = path
        for fmt in (2, 3):
            tree = xr.DataTree.from_dict({
                "/": xr.Dataset(attrs={"kind": "root"}),
                "/analysis": ds[["t2m", "land"]],
                "/analysis/surface": ds[["precip", "count"]],
                "/forecast": ds[["precip"]].isel(time=slice(0, 20), cell=slice(10, 40)),
            })
            path = root / f"tree_v{fmt}.zarr"
            tree.to_zarr(path, mode="w", zarr_format=fmt)
            stores[f"tree_v{fmt}"] = path
    return stores


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("xarray-corpus"))


def _selections(ds: Any) -> Iterator[Any]:
    """What users load: random batches (repeats, any order), windows,
    regions of the grid, reversed and strided slices, pointwise picks."""
    rng = np.random.default_rng(11)
    n = ds.sizes.get("time", 1)

    def isel(**kw: Any) -> Any:
        return ds.isel(kw, missing_dims="ignore")

    yield ds
    yield isel(time=rng.permutation(n)[:8])
    yield isel(time=[7 % n, 3, 3, n - 1])
    yield isel(time=slice(9, 17))
    yield isel(cell=slice(5, 33), level=1)
    yield isel(time=slice(None, None, -3), cell=slice(40, 2, -2))
    yield isel(time=xr.DataArray([1, 5, 5, n - 1], dims="pt"),
               cell=xr.DataArray([0, 9, 3, 19], dims="pt"))
    yield ds.sel(time=slice("2020-01-03", "2020-01-05")) if "time" in ds.indexes else ds
    yield isel(time=[], cell=slice(0, 4))


def _assert_same_reads(expected: Any, actual: Any) -> None:
    xr.testing.assert_identical(expected, actual)
    for want, got in zip(_selections(expected), _selections(actual), strict=True):
        xr.testing.assert_identical(want.load(), got.load())


def _open(path: Any, engine: str, **kw: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # stores without consolidated metadata
        return xr.open_dataset(path, engine=engine, **kw)


@pytest.mark.parametrize("variant", VARIANTS)
def test_local_stores_read_like_engine_zarr(corpus: dict[str, Path], variant: str) -> None:
    expected = _open(corpus[variant], "zarr")
    actual = _open(corpus[variant], "fastchunk")
    # Packed values (precip: int16, scale 0.1) come back as stored.
    xr.testing.assert_allclose(actual, corpus_dataset(), rtol=0, atol=0.051)
    _assert_same_reads(expected, actual)
    for name in actual.variables:  # the encoding to_zarr writes back with
        for key in ("chunks", "preferred_chunks", "compressors", "filters", "shards", "dtype"):
            if key == "preferred_chunks" or key not in expected[name].encoding:
                continue
            assert actual[name].encoding[key] == expected[name].encoding[key], (name, key)


@pytest.mark.filterwarnings("ignore:The specified chunks separate:UserWarning")  # time=5
@pytest.mark.parametrize("variant", ["v2", "v3_sharded"])
@pytest.mark.parametrize("chunks", [{}, "auto", {"time": 5}])
def test_dask_reads_like_engine_zarr(corpus: dict[str, Path], variant: str, chunks: Any) -> None:
    pytest.importorskip("dask")
    expected = _open(corpus[variant], "zarr", chunks=chunks)
    actual = _open(corpus[variant], "fastchunk", chunks=chunks)
    assert actual["t2m"].chunks is not None
    _assert_same_reads(expected, actual)


@pytest.mark.parametrize("fmt", [2, 3])
def test_group_trees_read_like_engine_zarr(corpus: dict[str, Path], fmt: int) -> None:
    path = corpus[f"tree_v{fmt}"]
    expected = xr.open_datatree(path, engine="zarr")
    actual = xr.open_datatree(path, engine="fastchunk")
    xr.testing.assert_identical(expected, actual)
    for group in ("analysis", "analysis/surface", "forecast"):
        want = _open(path, "zarr", group=group)
        got = _open(path, "fastchunk", group=group)
        _assert_same_reads(want, got)
    sub = xr.open_datatree(path, engine="fastchunk", group="analysis")
    xr.testing.assert_identical(sub, xr.open_datatree(path, engine="zarr", group="analysis"))


def test_consolidated_or_not_reads_the_same(corpus: dict[str, Path]) -> None:
    path = corpus["v3"]
    with_cm = _open(path, "fastchunk", consolidated=True)
    without = _open(path, "fastchunk", consolidated=False)
    xr.testing.assert_identical(with_cm.load(), without.load())
    # Without consolidated metadata: warned about as by engine="zarr", or silent with False.
    plain = path.parent / "plain.zarr"
    corpus_dataset().to_zarr(plain, mode="w", consolidated=False, zarr_format=3)
    with pytest.warns(RuntimeWarning, match="consolidated metadata"):
        xr.open_dataset(plain, engine="fastchunk")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.testing.assert_identical(xr.open_dataset(plain, engine="fastchunk",
                                                    consolidated=False), with_cm)
    with pytest.raises(ValueError, match="no consolidated metadata"):
        xr.open_dataset(plain, engine="fastchunk", consolidated=True)


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The native reads (Array._read calls) made from now on, by array path."""
    calls: list[str] = []
    read = Array._read

    def counting(self: Array, *args: Any, **kwargs: Any) -> None:
        calls.append(self.path)
        read(self, *args, **kwargs)

    monkeypatch.setattr(Array, "_read", counting)
    return calls


@pytest.mark.parametrize("variant", ["v2", "v3_sharded"])
def test_each_load_is_one_native_read_per_variable(
    corpus: dict[str, Path], variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds = _open(corpus[variant], "fastchunk")
    lazy = {name for name, v in ds.variables.items() if not v._in_memory}
    assert lazy == {"t2m", "precip", "land", "count", "lat", "station"}
    calls = _count_reads(monkeypatch)
    idx = np.random.default_rng(1).permutation(N_TIME)[:8]
    ds.isel(time=idx).load()
    assert collections.Counter(calls) == dict.fromkeys(lazy, 1)
    # (a load keeps what it read in the variables it did not index: a new dataset)
    ds = _open(corpus[variant], "fastchunk")
    calls.clear()  # opening read the index coordinates (and time's first and last values)
    ds.isel(time=slice(3, 11), cell=slice(10, 20)).load()
    ds["t2m"][[4, 1, 4], :, ::-5].values  # noqa: B018
    assert collections.Counter(calls) == {**dict.fromkeys(lazy, 1), "t2m": 2}


def test_dask_tasks_read_many_stored_chunks(corpus: dict[str, Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dask")
    ds = _open(corpus["v3"], "fastchunk", chunks={})
    # t2m is stored in 4 x 1 x 2 chunks of (4, 3, 25): the dask block
    # holds the whole (small) array, one native read for 24 chunks.
    assert ds["t2m"].encoding["chunks"] == (4, 3, 25)
    assert ds["t2m"].chunks == ((N_TIME,), (N_LEVEL,), (N_CELL,))
    calls = _count_reads(monkeypatch)
    ds["t2m"].variable.load()
    assert calls == ["t2m"]
    # task_bytes=0: one task per stored chunk, as engine="zarr".
    per_chunk = _open(corpus["v3"], "fastchunk", chunks={}, task_bytes=0)
    assert per_chunk["t2m"].chunks == _open(corpus["v3"], "zarr", chunks={})["t2m"].chunks
    calls.clear()
    xr.testing.assert_identical(per_chunk["t2m"].variable.load(), ds["t2m"].variable)
    assert len(calls) == (N_TIME // 4) * 2


def test_loads_use_fastchunks_caches(corpus: dict[str, Path]) -> None:
    fastchunk.set_cache_size("64MB")
    try:
        fastchunk.clear_cache()
        ds = _open(corpus["v3"], "fastchunk", cache=False)
        first = ds.isel(time=[4, 9, 30]).load()
        before = fastchunk.get_cache_info()
        second = ds.isel(time=[4, 9, 30]).load()
        after = fastchunk.get_cache_info()
        xr.testing.assert_identical(first, second)
        assert after["hits"] > before["hits"] and after["misses"] == before["misses"]
    finally:
        fastchunk.set_cache_size(0)


def test_preferred_chunks() -> None:
    # The first axis (sampled by random batches) stays one chunk deep when a
    # block of it is 1 MiB or more; the others grow up to task_bytes.
    assert preferred_chunks((256, 16, 40320), (1, 16, 40320), 4) == (1, 16, 40320)
    assert preferred_chunks((256, 16, 40320), (1, 4, 4032), 4) == (1, 16, 40320)
    assert preferred_chunks((256, 721, 1440), (1, 100, 100), 4) == (1, 721, 1440)
    assert preferred_chunks((100, 721, 1440), (1, 100, 100), 4, "1MB") == (1, 100, 1440)
    assert preferred_chunks((100, 721, 1440), (1, 100, 100), 4, "3MB") == (1, 500, 1440)
    # Small blocks grow along the first axis too, to 1 MiB.
    assert preferred_chunks((10**6,), (1000,), 8) == (131000,)
    assert preferred_chunks((365, 10), (1, 10), 4) == (365, 10)
    # Stored chunks larger than the array, empty arrays, 0-d, task_bytes=0.
    assert preferred_chunks((3,), (10,), 4) == (3,)
    assert preferred_chunks((0, 5), (4, 5), 4) == (4, 5)
    assert preferred_chunks((), (), 8) == ()
    assert preferred_chunks((256, 16), (1, 4), 4, 0) == (1, 4)


def test_engine_is_registered_and_not_guessed(corpus: dict[str, Path]) -> None:
    assert "fastchunk" in xr.backends.list_engines()
    # A .zarr path with no engine still goes to engine="zarr".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = xr.open_dataset(corpus["v3"])
    assert "FastchunkBackendArray" not in repr(ds["t2m"].variable._data)


def test_pickled_datasets_load_in_another_process(corpus: dict[str, Path]) -> None:
    import multiprocessing

    ds = _open(corpus["v3_sharded"], "fastchunk").isel(time=[5, 2, 9])
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        loaded = pool.apply(_load, (ds,))
    xr.testing.assert_identical(loaded, _open(corpus["v3_sharded"], "zarr").isel(time=[5, 2, 9]))


def _load(ds: Any) -> Any:
    return ds.load()


def test_codecs_fastchunk_does_not_decode_natively_fall_back(tmp_path: Path) -> None:
    import numcodecs

    ds = corpus_dataset()[["t2m"]]
    enc = {"t2m": {"chunks": (4, 3, 25), "filters": [numcodecs.Fletcher32()]}}
    ds.to_zarr(tmp_path / "f.zarr", zarr_format=2, encoding=enc)
    with pytest.warns(fastchunk.SlowCodecWarning, match="fletcher32"):
        actual = _open(tmp_path / "f.zarr", "fastchunk").load()
    xr.testing.assert_identical(actual, _open(tmp_path / "f.zarr", "zarr").load())


def test_errors_are_clear(corpus: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="No such file or directory"):
        xr.open_dataset(tmp_path / "missing.zarr", engine="fastchunk")
    with pytest.raises(ValueError, match="only reads"):
        xr.open_dataset(corpus["v3"], engine="fastchunk", mode="w")
    with pytest.raises(ValueError, match="is a zarr array, not a group"):
        xr.open_dataset(corpus["v3"], engine="fastchunk", group="t2m")
    with pytest.raises(TypeError, match="unexpected keyword argument 'chunk_store'"):
        xr.open_dataset(corpus["v3"], engine="fastchunk", chunk_store={})
    with pytest.raises(FileNotFoundError, match="not v2"):
        xr.open_dataset(corpus["v3"], engine="fastchunk", zarr_format=2)
    # A corrupt chunk is an error when read, never wrong data.
    broken = tmp_path / "broken.zarr"
    _with_encoding(corpus_dataset(), "v2").to_zarr(broken, zarr_format=2)
    (broken / "t2m" / "1.0.1").write_bytes(b"not a blosc frame")
    ds = _open(broken, "fastchunk")
    ds.isel(time=0).load()  # chunk 0.*.*: intact
    with pytest.raises(fastchunk.ChunkDecodeError, match="1.0.1"):
        ds["t2m"].isel(time=5).load()


def test_icechunk_repositories_read_like_icechunk(tmp_path: Path) -> None:
    """A dataset committed to an Icechunk repository by xarray through
    Icechunk's own store, read at a branch, a tag and a snapshot id."""
    from tests.icechunk_repos import icechunk

    ic = icechunk()
    repo = ic.Repository.create(ic.local_filesystem_storage(str(tmp_path / "repo")))
    ds = _with_encoding(corpus_dataset(), "v3_sharded")
    session = repo.writable_session("main")
    ds.to_zarr(session.store, zarr_format=3, consolidated=False)
    first = session.commit("write")
    repo.create_tag("v1", first)
    session = repo.writable_session("main")
    ds2 = ds.assign(t2m=ds["t2m"] + 1)[["t2m"]]
    ds2.to_zarr(session.store, mode="a", consolidated=False)
    session.commit("t2m + 1")
    for ref, icref in (({"branch": "main"}, {"branch": "main"}), ({"tag": "v1"}, {"tag": "v1"}),
                       ({"snapshot": first}, {"snapshot_id": first})):
        want = xr.open_zarr(repo.readonly_session(**icref).store, consolidated=False,
                            chunks=None)
        got = _open(tmp_path / "repo", "fastchunk", consolidated=False, **ref)
        _assert_same_reads(want, got)
    assert float(got["t2m"][0, 0, 0]) == float(ds["t2m"][0, 0, 0])  # the snapshot of v1


# ------------------------------------------------------------------ remote


def _remote_matches_local(url: str, local: Path, storage_options: dict[str, Any]) -> None:
    expected = _open(local, "zarr")
    actual = _open(url, "fastchunk", storage_options=storage_options)
    _assert_same_reads(expected, actual)
    chunked = _open(url, "fastchunk", storage_options=storage_options, chunks={})
    xr.testing.assert_identical(chunked.isel(time=[3, 1, 40]).load(),
                                expected.isel(time=[3, 1, 40]).load())


@pytest.mark.parametrize("variant", ["v2", "v3_sharded"])
def test_s3_stores_read_like_local(
    s3: s3_server.S3Server, corpus: dict[str, Path], variant: str
) -> None:
    prefix = f"xarray-{variant}.zarr"
    s3.upload_dir(corpus[variant], prefix)
    _remote_matches_local(f"s3://{s3.bucket}/{prefix}", corpus[variant], s3.storage_options())


def test_s3_group_tree(s3: s3_server.S3Server, corpus: dict[str, Path]) -> None:
    s3.upload_dir(corpus["tree_v3"], "xarray-tree.zarr")
    url = f"s3://{s3.bucket}/xarray-tree.zarr"
    tree = xr.open_datatree(url, engine="fastchunk", storage_options=s3.storage_options())
    xr.testing.assert_identical(tree, xr.open_datatree(corpus["tree_v3"], engine="zarr"))


def test_gcs_store_reads_like_local(gcs: gcs_server.GCSServer, corpus: dict[str, Path]) -> None:
    gcs.upload_dir(corpus["v3_sharded"], "xarray-v3_sharded.zarr")
    _remote_matches_local(f"gs://{gcs.bucket}/xarray-v3_sharded.zarr", corpus["v3_sharded"],
                          gcs.storage_options())


def test_http_store_reads_like_local(corpus: dict[str, Path]) -> None:
    pytest.importorskip("obstore")
    root = corpus["v2"].parent
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v2.zarr"
        _remote_matches_local(url, corpus["v2"], {})
    finally:
        server.shutdown()
        server.server_close()
