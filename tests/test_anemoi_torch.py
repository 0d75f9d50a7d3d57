"""fastchunk.torch over anemoi views, against what anemoi-training builds from
anemoi.datasets: windows of dates in steps of the view's frequency, missing
dates honoured, normalized by the dataset's statistics, in anemoi-training's
(dates, ensembles, gridpoints, variables) order; DataLoader workers under
fork, spawn and forkserver for every dataset class fastchunk ships."""

from __future__ import annotations

import json
import multiprocessing
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastchunk  # noqa: E402
import fastchunk.anemoi as fa  # noqa: E402
from fastchunk.torch import ArrayDataset, Loader, ShardedBatchSampler  # noqa: E402
from tests.anemoi_support import build_datasets, reference, substitute  # noqa: E402

OFFSETS = [-1, 0, 1]
# (id, options): views the loader reads, compared with anemoi's reads of them
VIEWS = {
    "plain": {"dataset": "@base"},
    "select_12h": {"dataset": "@base", "select": ["t2m", "msl", "insolation"], "frequency": "12h"},
    "join": {"join": ["@base", "@other"], "select": ["tp", "t2m", "cos_latitude"]},
    "concat": {"concat": ["@base", "@later"], "drop": ["sin_longitude"]},
    "cutout": {"cutout": ["@lam", "@base"], "select": ["t2m", "msl", "cos_latitude"]},
}


@pytest.fixture(scope="session")
def torch_env(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("anemoi_torch")
    paths = build_datasets(tmp_path_factory.getbasetemp() / "anemoi-datasets")
    cases = [{"id": k, "kwargs": substitute(v, paths)} for k, v in VIEWS.items()]
    return paths, reference(cases, work)


def _view(paths, name: str) -> fa.Dataset:
    return fa.open_dataset(**substitute(VIEWS[name], paths))


def _anemoi_windows(ref: dict, anchors: np.ndarray) -> np.ndarray:
    reads = ref["reads"]
    return np.stack(
        [np.stack([reads[json.dumps(int(a + o))][1] for o in OFFSETS]) for a in anchors]
    )


def _usable(ref: dict) -> np.ndarray:
    """anemoi-training's rule: an anchor whose whole window is inside the
    dataset and touches no missing date."""
    n, missing = ref["properties"]["len"], set(ref["properties"]["missing"])
    return np.asarray(
        [a for a in range(n) if all(0 <= a + o < n and (a + o) not in missing for o in OFFSETS)],
        dtype=np.int64,
    )


@pytest.mark.parametrize("name", list(VIEWS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_loader_windows_match_anemoi_training(torch_env, name, dtype) -> None:
    paths, refs = torch_env
    ref = refs[name]
    view = _view(paths, name)
    loader = Loader(
        view, batch_size=3, offsets=OFFSETS, normalize="statistics", layout="anemoi",
        dtype=dtype, shuffle=False, num_threads=2,
    )  # fmt: skip
    np.testing.assert_array_equal(loader.dataset.anchors, _usable(ref))
    stats = ref["properties"]["statistics"]
    mean = stats["mean"].astype("f4")[None, None, :, None, None]
    std = stats["stdev"].astype("f4")[None, None, :, None, None]
    batches = [b.clone() for b in loader]
    assert [len(b) for b in batches] == [len(i) for i in loader.sampler.batches(0)]
    got = torch.cat(batches)
    raw = _anemoi_windows(ref, loader.dataset.anchors)  # (n, window, vars, ens, grid)
    want = ((raw - mean) / std).transpose(0, 1, 3, 4, 2)  # (n, window, ens, grid, vars)
    assert got.shape == want.shape and got.dtype == dtype
    assert torch.equal(got, torch.from_numpy(np.ascontiguousarray(want)).to(dtype))


def test_windows_of_a_skip_view_never_straddle_a_gap(torch_env) -> None:
    paths, _ = torch_env
    view = fa.open_dataset(paths["base"], missing_dates="skip")
    ds = ArrayDataset(view, offsets=[0, 1, 2])
    step = np.timedelta64(6, "h")
    for a in ds.anchors:
        d = view.dates[a : a + 3]
        assert (np.diff(d) == step).all()
    full = fa.open_dataset(paths["base"])
    assert len(ds) == len(ArrayDataset(full, offsets=[0, 1, 2]))


def test_missing_merges_with_the_datasets_own(torch_env) -> None:
    paths, _ = torch_env
    view = fa.open_dataset(paths["base"])
    ds = ArrayDataset(view, missing=[0, 7])
    np.testing.assert_array_equal(ds.missing, [0, 5, 7, 10])
    by_date = ArrayDataset(view, missing=["2020-01-01T00:00:00", np.datetime64("2020-01-02T18")])
    np.testing.assert_array_equal(by_date.missing, [0, 5, 7, 10])
    by_url = ArrayDataset(paths["base"] + "/data", missing=[7])
    by_path = ArrayDataset(paths["base"], path="data", missing=[7])
    np.testing.assert_array_equal(by_url.missing, [5, 7, 10])
    np.testing.assert_array_equal(by_url.missing, by_path.missing)
    np.testing.assert_array_equal(by_url.anchors, by_path.anchors)
    a = Loader(paths["base"] + "/data", batch_size=4, offsets=[0, 1])
    b = Loader(paths["base"], path="data", batch_size=4, offsets=[0, 1])
    np.testing.assert_array_equal(a.dataset.anchors, b.dataset.anchors)
    assert len(a.dataset) == 16 - 1 - 4


def test_a_loader_on_an_anemoi_store_says_how_to_read_it(torch_env) -> None:
    """Loader("x.zarr") on an anemoi dataset failed with "is a group, not an
    array" alone: it names path="data" and fastchunk.anemoi.open_dataset."""
    paths, _ = torch_env
    with pytest.raises(fastchunk.MetadataError) as e:
        Loader(paths["base"], batch_size=2)
    assert 'path="data"' in str(e.value) and "fastchunk.anemoi.open_dataset" in str(e.value)
    with pytest.raises(fastchunk.MetadataError, match="open_dataset"):
        ArrayDataset(paths["base"])


def test_normalize_statistics_needs_a_view(torch_env) -> None:
    paths, _ = torch_env
    with pytest.raises(ValueError, match="statistics"):
        Loader(paths["base"] + "/data", batch_size=2, normalize="statistics")
    with pytest.raises(ValueError, match="layout"):
        Loader(fa.open_dataset(paths["base"]), batch_size=2, layout="nhwc")


def test_loader_threads_are_its_own(torch_env) -> None:
    paths, _ = torch_env
    fastchunk.set_num_threads(3)
    try:
        loader = Loader(fa.open_dataset(paths["base"]), batch_size=4, num_threads=1)
        seen = []
        for _ in loader:
            seen.append(fastchunk.get_num_threads())
        assert seen and set(seen) == {3}
        # a thread that set its own count sees it; the process keeps 3
        counts = []
        t = threading.Thread(
            target=lambda: (fastchunk._core.set_thread_num_threads(5),
                            counts.append(fastchunk.get_num_threads()))
        )  # fmt: skip
        t.start()
        t.join()
        assert counts == [5] and fastchunk.get_num_threads() == 3
    finally:
        fastchunk.set_num_threads(0)


def _reference_rows(ds: ArrayDataset) -> torch.Tensor:
    return ds.read_batch(np.arange(len(ds)))


def _datasets(paths) -> dict[str, ArrayDataset]:
    """Every dataset class fastchunk ships, as users make them."""
    view = fa.open_dataset(join=[paths["base"], paths["other"]], frequency="12h")
    return {
        "array": ArrayDataset(paths["base"] + "/data", offsets=[0, 1]),
        "view": ArrayDataset(view, offsets=[-1, 0]),
        "view_anemoi_layout": Loader(
            fa.open_dataset(paths["base"], select=["t2m", "msl"]),
            batch_size=2,
            normalize="statistics",
            layout="anemoi",
            dtype="bfloat16",
        ).dataset,  # fmt: skip
    }


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("kind", ["array", "view", "view_anemoi_layout"])
def test_dataloader_workers_every_start_method(torch_env, method, kind) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    paths, _ = torch_env
    ds = _datasets(paths)[kind]
    want = _reference_rows(ds)  # the parent reads first
    # the fast path: whole batches, batch_size=None
    fast = ds.dataloader(4, shuffle=True, seed=3, num_workers=2, multiprocessing_context=method,
                         timeout=120)  # fmt: skip
    got = {}
    for batch, idx in zip(fast, fast.sampler, strict=True):
        assert batch.shape == (len(idx), *ds.output_shape)
        for row, i in zip(batch, idx, strict=True):
            got[i] = row
    assert sorted(got) == list(range(len(ds)))
    assert torch.equal(torch.stack([got[i] for i in range(len(ds))]), want)
    if kind != "view":
        return
    # and the plain way: default collate over __getitems__
    plain = torch.utils.data.DataLoader(
        ds, batch_size=5, num_workers=1, multiprocessing_context=method, timeout=120
    )
    assert torch.equal(torch.cat(list(plain)), want)


def test_dataloader_fast_path_does_not_restack(torch_env) -> None:
    paths, _ = torch_env
    ds = ArrayDataset(fa.open_dataset(paths["base"]), offsets=[0, 1])
    batch = ds[[3, 0, 7]]
    assert isinstance(batch, torch.Tensor) and batch.shape == (3, *ds.sample_shape)
    loader = ds.dataloader(4, shuffle=False)
    assert isinstance(loader.sampler, ShardedBatchSampler) and loader.batch_size is None
    first = next(iter(loader))
    assert first.shape == (4, *ds.sample_shape)
    torch.testing.assert_close(first, ds.read_batch([0, 1, 2, 3]), equal_nan=True)


@pytest.mark.parametrize("out_type", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("nan", [None, -7.0])
@pytest.mark.parametrize("channels", [5, 45])  # 45: every group width of the kernel
def test_channels_last_transform_matches_torch(out_type, nan, channels) -> None:
    rng = np.random.default_rng(4)
    src = rng.standard_normal((3, channels, 1000)).astype("f4") * 50
    src[1, 2, 17] = np.nan
    mean = rng.standard_normal(channels).astype("f4")
    std = (rng.random(channels) + 0.5).astype("f4")
    dtype = getattr(torch, out_type)
    dst = torch.empty((3, 1000, channels), dtype=dtype)
    view = dst.view(torch.int16).numpy() if dtype == torch.bfloat16 else dst.numpy()
    fastchunk._core.transform_batch(
        src, view.reshape(-1).view(np.uint8), 3, channels, 1000, mean, std, nan,
        fastchunk._core.TRANSFORM_OUT_TYPES[out_type], True,
    )  # fmt: skip
    ref = (src - mean[None, :, None]) / std[None, :, None]
    if nan is not None:
        ref = np.where(np.isnan(src), np.float32(nan), ref)
    want = torch.from_numpy(np.ascontiguousarray(ref.transpose(0, 2, 1))).to(dtype)
    assert torch.equal(dst.isnan(), want.isnan())
    assert torch.equal(torch.nan_to_num(dst), torch.nan_to_num(want))
    with pytest.raises(ValueError, match="over its input"):
        fastchunk._core.transform_batch(src, src, 3, channels, 1000, mean, std, None, 0, True)


@pytest.mark.parametrize(  # in place: float32 only (the output overwrites its float32 input)
    ("out_type", "in_place"),
    [("float32", False), ("float32", True), ("float16", False), ("bfloat16", False)],
)
@pytest.mark.parametrize("nan", [None, -7.0])
@pytest.mark.parametrize("channels", [1, 16, 45, 1500])  # 1500: a tile of one row
def test_channels_innermost_transform_matches_torch(out_type, in_place, nan, channels) -> None:
    """The pass over a batch read channels last already (layout="anemoi"):
    (rows, channels) normalized by tiles of whole rows, in place or not."""
    rng = np.random.default_rng(5)
    rows = 3001  # not a whole number of tiles
    src = rng.standard_normal((rows, channels)).astype("f4") * 50
    src[17, channels // 2] = np.nan
    mean = rng.standard_normal(channels).astype("f4")
    std = (rng.random(channels) + 0.5).astype("f4")
    ref = (src - mean[None, :]) / std[None, :]
    if nan is not None:
        ref = np.where(np.isnan(src), np.float32(nan), ref)
    dtype = getattr(torch, out_type)
    want = torch.from_numpy(np.ascontiguousarray(ref)).to(dtype)
    if in_place:
        dst = torch.from_numpy(src)
        target = src.reshape(-1).view(np.uint8)
    else:
        dst = torch.empty((rows, channels), dtype=dtype)
        view = dst.view(torch.int16).numpy() if dtype == torch.bfloat16 else dst.numpy()
        target = view.reshape(-1).view(np.uint8)
    fastchunk._core.transform_batch(
        src, target, rows, channels, 1, mean, std, nan,
        fastchunk._core.TRANSFORM_OUT_TYPES[out_type], False,
    )  # fmt: skip
    assert torch.equal(dst.isnan(), want.isnan())
    assert torch.equal(torch.nan_to_num(dst), torch.nan_to_num(want))


def test_anemoi_layout_on_a_plain_array(tmp_path) -> None:
    import zarr

    data = np.random.default_rng(1).standard_normal((10, 4, 2, 30)).astype("f4")
    zarr.create_array(tmp_path / "a.zarr", shape=data.shape, chunks=(1, 4, 2, 30),
                      dtype="f4")[:] = data  # fmt: skip
    loader = Loader(str(tmp_path / "a.zarr"), batch_size=3, offsets=[0, 1], shuffle=False,
                    layout="anemoi", select={3: slice(5, 25)})  # fmt: skip
    got = torch.cat([b.clone() for b in loader]).numpy()
    a = loader.dataset.anchors
    want = np.stack([data[[i, i + 1]][..., 5:25] for i in a]).transpose(0, 1, 3, 4, 2)
    np.testing.assert_array_equal(got, want)
