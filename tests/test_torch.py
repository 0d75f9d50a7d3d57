"""fastchunk.torch against numpy: datasets, sampler, Loader, DataLoader workers."""

from __future__ import annotations

import multiprocessing
import pickle

import numpy as np
import pytest
import zarr

torch = pytest.importorskip("torch")

import fastchunk  # noqa: E402
from fastchunk.torch import ArrayDataset, Loader, ShardedBatchSampler, Transform  # noqa: E402

DATES, VARS, ENS, GRID = 40, 5, 2, 12


def _data() -> np.ndarray:
    rng = np.random.default_rng(42)
    data = rng.standard_normal((DATES, VARS, ENS, GRID)).astype("f4")
    data *= np.arange(1, VARS + 1, dtype="f4")[None, :, None, None]
    data[:, 0, 0, 0] = np.arange(DATES)  # the date, to identify samples
    data[7, 2, 1, 3] = np.nan
    data[21, 4, 0, 9] = np.nan
    return data


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("torch") / "era.zarr"
    data = _data()
    z = zarr.create_array(path, shape=data.shape, chunks=(1, VARS, ENS, GRID), dtype="f4")
    z[:] = data
    return str(path), data


@pytest.fixture(scope="module")
def chunked_store(tmp_path_factory):
    """Four dates per chunk, v2 with blosc, two missing dates in attrs."""
    path = tmp_path_factory.mktemp("torch4") / "era4.zarr"
    data = _data()
    z = zarr.create_array(
        path, shape=data.shape, chunks=(4, VARS, ENS, GRID), dtype="f4", zarr_format=2
    )
    z[:] = data
    z.attrs["missing_dates"] = [10, 30]
    return str(path), data


def _dates(batch: torch.Tensor) -> list[int]:
    """Anchor dates of a batch of plain (non-window) samples."""
    return [int(x) for x in batch.float()[:, 0, 0, 0]]


# ---------------------------------------------------------------- dataset


def test_dataset_windows_and_select(store):
    path, data = store
    offsets = [-2, 0, 1, 3]
    sel_vars, sel_grid = [4, 0, 2], slice(2, 11, 3)
    ds = ArrayDataset(path, offsets=offsets, select={1: sel_vars, 3: sel_grid})
    np.testing.assert_array_equal(ds.anchors, np.arange(2, DATES - 3))
    assert len(ds) == DATES - 5
    assert ds.sample_shape == (4, 3, ENS, 3)
    items = [5, 0, len(ds) - 1, 5]
    got = torch.stack(ds.__getitems__(items)).numpy()
    for k, i in enumerate(items):
        rows = ds.anchors[i] + np.array(offsets)
        expected = data[rows][:, sel_vars][..., sel_grid]
        np.testing.assert_array_equal(got[k], expected)
    rows = ds.anchors[3] + np.array(offsets)
    np.testing.assert_array_equal(ds[3].numpy(), data[rows][:, sel_vars][..., sel_grid])


def test_dataset_tuple_select_drops_int_axes(store):
    path, data = store
    ds = ArrayDataset(path, select=(slice(1, 4), 1, [11, 0]))
    assert ds.sample_shape == (3, 2)
    got = ds.read_batch([9, 2]).numpy()
    np.testing.assert_array_equal(got, data[[9, 2]][:, 1:4, 1][..., [11, 0]])


def test_dataset_other_axis(store):
    path, data = store
    ds = ArrayDataset(path, axis=3, offsets=[0, 1], select={1: [1, 3]})
    assert len(ds) == GRID - 1
    got = ds.read_batch([4, 0]).numpy()
    assert got.shape == (2, DATES, 2, ENS, 2)
    for k, g in enumerate([4, 0]):
        np.testing.assert_array_equal(got[k], data[:, [1, 3]][..., [g, g + 1]])


def test_missing_dates_skipped_not_wrapped(store, chunked_store):
    path, _ = store
    ds = ArrayDataset(path, offsets=[-1, 0, 1], missing=[10, -1])
    windows = ds.anchors[:, None] + np.array([-1, 0, 1])
    assert windows.min() >= 0 and windows.max() < DATES - 1
    assert not np.isin(windows, [10, DATES - 1]).any()
    assert len(ds) == DATES - 2 - 3 - 1  # edges, three windows touching 10, one touching 39
    path4, data4 = chunked_store
    ds4 = ArrayDataset(path4)  # missing from attrs
    assert set(ds4.anchors.tolist()) == set(range(DATES)) - {10, 30}
    got = ds4.read_batch(np.arange(len(ds4))).numpy()
    np.testing.assert_array_equal(got, data4[ds4.anchors])


def test_missing_dates_from_anemoi_group_attrs(tmp_path):
    path = tmp_path / "anemoi.zarr"
    g = zarr.open_group(path, mode="w", zarr_format=2)
    g.create_array("data", shape=(12, 3), chunks=(1, 3), dtype="f4")[:] = np.arange(36).reshape(
        12, 3
    )
    g.attrs.update(
        {
            "start_date": "2020-01-01T00:00:00",
            "frequency": "6h",
            "missing_dates": ["2020-01-01T12:00:00", "2020-01-02T06:00:00"],
        }
    )
    ds = ArrayDataset(str(path), path="data", offsets=[0, 1])
    np.testing.assert_array_equal(ds.missing, [2, 5])
    np.testing.assert_array_equal(ds.anchors, [0, 3, 6, 7, 8, 9, 10])
    g.attrs["missing_dates"] = ["2020-01-01T01:00:00"]  # off the 6-hour grid
    with pytest.warns(UserWarning, match="missing="):
        assert len(ArrayDataset(str(path), path="data")) == 12


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_fused_transform_matches_torch(store, dtype):
    path, data = store
    mean = np.nanmean(data, axis=(0, 2, 3)).astype("f4")
    std = np.nanstd(data, axis=(0, 2, 3)).astype("f4")
    ds = ArrayDataset(
        path,
        offsets=[0, 1],
        select={1: [4, 1, 2]},
        transform=Transform(normalize=(mean, std), nan=-5.0, dtype=dtype),
    )
    items = [7, 21, 0, 20]
    got = ds.read_batch(items)
    assert got.dtype == dtype
    raw = np.stack([data[ds.anchors[i] + np.array([0, 1])][:, [4, 1, 2]] for i in items])
    m = mean[[4, 1, 2]][None, None, :, None, None]
    s = std[[4, 1, 2]][None, None, :, None, None]
    ref32 = np.where(np.isnan(raw), np.float32(-5.0), (raw - m) / s).astype("f4")
    assert np.isnan(raw).sum() == 3
    expected = torch.from_numpy(ref32).to(dtype)
    assert torch.equal(got, expected)


def test_fused_cast_scalar_normalize_and_selected_length(store):
    path, data = store
    ds = ArrayDataset(path, transform=Transform(normalize=(1.5, 2.0), dtype="float16"))
    got = ds.read_batch([1, 2])
    assert torch.equal(got, torch.from_numpy((data[[1, 2]] - 1.5) / 2.0).half())
    # mean/std given for the selected variables only
    ds = ArrayDataset(
        path, select={1: [0, 4]}, transform=Transform(normalize=([1.0, 2.0], [3.0, 4.0]))
    )
    got = ds.read_batch([5]).numpy()
    ref = (data[[5]][:, [0, 4]] - np.array([1, 2], "f4")[:, None, None]) / np.array([3, 4], "f4")[
        :, None, None
    ]
    np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match="normalize has 3 values"):
        ArrayDataset(path, transform=Transform(normalize=([1, 2, 3], [1, 1, 1])))


def test_native_transform_rejects_bad_layout():
    src = np.zeros(12, "f4")
    with pytest.raises(ValueError, match="bytes"):
        fastchunk._core.transform_batch(src, np.zeros(12, "f2"), 1, 1, 12, out_type=0)
    with pytest.raises(ValueError, match="mean and std"):
        fastchunk._core.transform_batch(src, np.zeros(12, "f4"), 2, 3, 2, [0, 1], [1, 1])


def test_callable_transform_and_pickle(store):
    path, data = store
    ds = ArrayDataset(path, transform=lambda b: b * 2)
    np.testing.assert_array_equal(ds.read_batch([3]).numpy(), data[[3]] * 2)
    plain = ArrayDataset(path, offsets=[0, 2])
    clone = pickle.loads(pickle.dumps(plain))
    assert clone.array is not plain.array and clone.array.path == plain.array.path
    np.testing.assert_array_equal(clone[4].numpy(), plain[4].numpy())


# ---------------------------------------------------------------- sampler


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize(
    "n,world,batch", [(37, 3, 4), (10, 2, 5), (9, 2, 4), (16, 4, 4), (5, 2, 1)]
)
def test_sampler_disjoint_complete_balanced(n, world, batch, drop_last):
    per_rank = []
    for r in range(world):
        s = ShardedBatchSampler(n, batch, seed=3, drop_last=drop_last, rank=r, world_size=world)
        s.set_epoch(2)
        batches = list(s)
        assert len(batches) == len(s)
        assert all(1 <= len(b) <= batch for b in batches)
        if drop_last:
            assert all(len(b) == batch for b in batches)
        per_rank.append([i for b in batches for i in b])
    assert (
        len({len(ShardedBatchSampler(n, batch, rank=r, world_size=world)) for r in range(world)})
        == 1
    )
    flat = [i for share in per_rank for i in share]
    if drop_last:
        assert len(flat) == len(set(flat)) == (n // (world * batch)) * world * batch
    else:
        assert set(flat) == set(range(n))
        if n >= world * len(ShardedBatchSampler(n, batch, rank=0, world_size=world)):
            assert len(flat) == n  # disjoint: nothing repeated


def test_sampler_order_deterministic_in_seed_and_epoch():
    def order(seed, epoch):
        s = ShardedBatchSampler(100, 10, seed=seed)
        s.set_epoch(epoch)
        return [i for b in s for i in b]

    assert order(1, 0) == order(1, 0)
    assert order(1, 0) != order(1, 1)
    assert order(1, 0) != order(2, 0)
    assert sorted(order(1, 1)) == list(range(100))
    unshuffled = ShardedBatchSampler(10, 4, shuffle=False)
    assert list(unshuffled) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_sampler_chunk_aware_groups_chunks():
    chunk_ids = np.repeat(np.arange(12), 24)  # 24 samples per chunk
    s = ShardedBatchSampler(chunk_ids.size, 24, seed=5, chunk_ids=chunk_ids)
    batches = s.batches(0)
    assert sorted(i for b in batches for i in b) == list(range(chunk_ids.size))
    for b in batches:  # every batch is exactly one chunk, shuffled within
        assert len(set(chunk_ids[b])) == 1
    assert [chunk_ids[b[0]] for b in batches] != list(range(12))
    assert any(list(b) != sorted(b) for b in batches)
    assert s.batches(1)[0].tolist() != batches[0].tolist()


# ---------------------------------------------------------------- Loader


def test_loader_epoch_coverage_and_determinism(store):
    path, data = store
    loader = Loader(path, batch_size=6, seed=7, prefetch=2)
    assert len(loader) == 7
    assert not loader.pin_memory or torch.cuda.is_available()
    epochs = []
    for epoch in range(2):
        loader.set_epoch(epoch)
        batches = [b.clone() for b in loader]
        expected = loader.sampler.batches(epoch)
        assert [len(b) for b in batches] == [len(b) for b in expected]
        for got, idx in zip(batches, expected, strict=True):
            np.testing.assert_array_equal(got.numpy(), data[idx])
        dates = [d for b in batches for d in _dates(b)]
        assert sorted(dates) == list(range(DATES))
        epochs.append(dates)
    assert epochs[0] != epochs[1]
    again = Loader(path, batch_size=6, seed=7)
    assert [d for b in again for d in _dates(b)] == epochs[0]
    assert loader.epoch == 2  # advanced after each full pass


def test_loader_reuses_ring_buffers(store):
    path, _ = store
    loader = Loader(path, batch_size=4, prefetch=2, shuffle=False)
    ptrs = {b.data_ptr() for b in loader}
    ptrs |= {b.data_ptr() for b in loader}
    assert len(ptrs) <= 3


def test_loader_options_against_numpy(chunked_store):
    path, data = chunked_store
    mean = np.nanmean(data, axis=(0, 2, 3))
    std = np.nanstd(data, axis=(0, 2, 3))
    loader = Loader(
        path,
        batch_size=5,
        offsets=[-1, 0],
        select={3: [0, 5, 6]},
        normalize=(mean, std),
        nan=0.0,
        dtype=torch.bfloat16,
        seed=2,
        drop_last=True,
        chunk_aware=True,
        num_threads=2,
    )
    ds = loader.dataset
    assert set(ds.anchors.tolist()) == set(range(1, DATES)) - {10, 11, 30, 31}
    batches = [b.clone() for b in loader]
    assert len(batches) == len(loader) == len(ds) // 5
    for got, idx in zip(batches, loader.sampler.batches(0), strict=True):
        rows = ds.anchors[idx][:, None] + np.array([-1, 0])
        raw = data[rows][..., [0, 5, 6]]
        ref = np.where(np.isnan(raw), 0, (raw - mean[:, None, None]) / std[:, None, None]).astype(
            "f4"
        )
        assert got.dtype == torch.bfloat16 and got.shape == (5, 2, VARS, ENS, 3)
        assert torch.equal(got, torch.from_numpy(ref).to(torch.bfloat16))


def test_loader_state_dict_resume(store):
    path, _ = store
    full = Loader(path, batch_size=4, seed=11)
    full.set_epoch(3)
    reference = [b.clone() for b in full]
    first = Loader(path, batch_size=4, seed=11)
    first.set_epoch(3)
    it = iter(first)
    for _ in range(4):
        next(it)
    state = first.state_dict()
    it.close()
    assert state["epoch"] == 3 and state["batches_done"] == 4
    resumed = Loader(path, batch_size=4, seed=11)
    resumed.load_state_dict(state)
    rest = [b.clone() for b in resumed]
    assert len(rest) == len(reference) - 4
    for got, want in zip(rest, reference[4:], strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    with pytest.raises(ValueError, match="seed"):
        Loader(path, batch_size=4, seed=12).load_state_dict(state)


def test_loader_from_dataset_and_ranks(store):
    path, data = store
    ds = ArrayDataset(path, offsets=[0, 1])
    seen = []
    lengths = set()
    for rank in range(3):
        loader = Loader(ds, batch_size=4, rank=rank, world_size=3, seed=1, dtype="float16")
        lengths.add(len(loader))
        for b in loader:
            assert b.dtype == torch.float16
            seen += [int(x) for x in b.float()[:, 0, 0, 0, 0]]
    assert len(lengths) == 1
    assert sorted(seen) == list(range(DATES - 1))


def test_loader_surfaces_decode_errors(tmp_path):
    path = tmp_path / "bad.zarr"
    z = zarr.create_array(path, shape=(8, 4), chunks=(1, 4), dtype="f4")
    z[:] = np.ones((8, 4), "f4")
    chunk = path / "c" / "5" / "0"
    assert chunk.is_file()
    chunk.write_bytes(b"garbage" * 3)
    loader = Loader(str(path), batch_size=8, shuffle=False)
    with pytest.raises(fastchunk.ChunkDecodeError):
        list(loader)


# ---------------------------------------------------------------- DataLoader


def _collect(loader) -> list[int]:
    return sorted(d for b in loader for d in _dates(b))


def test_dataloader_fork_workers_after_parent_read(store):
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    path, data = store
    ds = ArrayDataset(path)
    np.testing.assert_array_equal(ds.read_batch([0, 1]).numpy(), data[[0, 1]])  # parent reads
    fastchunk.set_num_threads(2)
    loader = torch.utils.data.DataLoader(
        ds,
        batch_sampler=ShardedBatchSampler(len(ds), 8, seed=0),
        num_workers=2,
        multiprocessing_context="fork",
    )
    assert _collect(loader) == list(range(DATES))
    for batch, idx in zip(loader, loader.batch_sampler, strict=True):
        np.testing.assert_array_equal(batch.numpy(), data[idx])


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_dataloader_spawn_and_forkserver(store, method):
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} on this platform")
    path, _ = store
    ds = ArrayDataset(path, transform=Transform(dtype="float16"))
    loader = torch.utils.data.DataLoader(
        ds, batch_size=20, num_workers=1, multiprocessing_context=method
    )
    batches = list(loader)
    assert all(b.dtype == torch.float16 for b in batches)
    assert _collect(batches) == list(range(DATES))
