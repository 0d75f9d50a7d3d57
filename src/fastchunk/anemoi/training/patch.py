"""use_fastchunk(datamodule): anemoi-training's AnemoiDatasetsDataModule
with its dataloaders served by fastchunk. What it cannot reproduce exactly
it refuses, naming it, before any batch is read."""

from __future__ import annotations

import functools
import logging
from typing import Any

import numpy as np

import fastchunk.anemoi
from fastchunk.anemoi.view import Dataset
from fastchunk.errors import UnsupportedError

from .loader import FastchunkDataLoader, window_offsets

# Stage -> (the datamodule's MultiDataset, its dataloader method, its config).
STAGES = {
    "training": ("ds_train", "train_dataloader", "train_dataloader_config"),
    "validation": ("ds_valid", "val_dataloader", "valid_dataloader_config"),
    "test": ("ds_test", "test_dataloader", "test_dataloader_config"),
}
VERIFIED = "0.17."  # the anemoi-training releases whose loader order.py reproduces
LOGGER = logging.getLogger(__name__)


def _anemoi_training() -> Any:
    try:
        import anemoi.training as at
        from anemoi.training.data import data_reader, datamodule, multidataset
        from anemoi.training.utils import seeding
    except ImportError as e:
        raise UnsupportedError(
            f"fastchunk.anemoi.training needs anemoi-training {VERIFIED}x ({e})"
        ) from None
    if not str(at.__version__).startswith(VERIFIED):
        raise UnsupportedError(
            f"fastchunk.anemoi.training reproduces the loader of anemoi-training {VERIFIED}x; "
            f"this is anemoi-training {at.__version__}: use its stock loader"
        )
    return data_reader, datamodule, multidataset, seeding


def _plain(value: Any) -> Any:
    """OmegaConf containers as plain dicts and lists (fastchunk's options)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf
    except ImportError:
        return value
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _check_methods(obj: Any, cls: type, names: tuple[str, ...], what: str) -> None:
    for name in names:
        mine = getattr(type(obj), name, None)
        if mine is not getattr(cls, name):
            raise UnsupportedError(
                f"{what} {type(obj).__name__} has its own {name}(): fastchunk reproduces only "
                f"anemoi-training's {cls.__name__}.{name}; use the stock loader"
            )


def open_view(reader_config: Any, data_reader: Any) -> Dataset:
    """fastchunk's view of one dataset, opened as data_reader.create_dataset
    opens anemoi's: open_dataset(dataset_config, start=, end=)."""
    config = data_reader._normalize_reader_config(reader_config)
    if config.get("trajectory") is not None:
        raise UnsupportedError(
            "trajectory datasets (TrajectoryDataset) are read by anemoi-training's stock loader; "
            "fastchunk.anemoi.training serves native-grid datasets only"
        )
    source = _plain(data_reader._normalize_dataset_config(config["dataset_config"]))
    return fastchunk.anemoi.open_dataset(
        source, start=_plain(config.get("start")), end=_plain(config.get("end"))
    )


def _same(name: str, view: Dataset, reader: Any, relative: Any) -> None:
    """Refuses a view that is not the reader's dataset, property by property,
    then one window of values."""
    data = reader.data
    checks = [
        ("dates", lambda d: np.asarray(d.dates).astype("datetime64[s]")),
        ("variables", lambda d: list(d.variables)),
        ("shape", lambda d: tuple(int(x) for x in d.shape)),
        ("dtype", lambda d: np.dtype(d.dtype)),
        ("missing", lambda d: sorted(int(m) for m in d.missing)),
        ("frequency", lambda d: d.frequency),
        ("grids", lambda d: tuple(int(g) for g in d.grids)),
    ]
    for what, get in checks:
        a, b = get(view), get(data)
        equal = np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        if not equal:
            raise UnsupportedError(
                f"dataset {name!r}: fastchunk's view differs from anemoi's in {what} "
                f"({_short(a)} against {_short(b)}); use the stock loader"
            )
    if view.dtype != np.float32:
        raise UnsupportedError(f"dataset {name!r} is {view.dtype}: fastchunk serves float32 only")
    anchors = reader.compute_anchors(window_offsets(relative))
    if len(anchors) == 0:
        return
    position = int(anchors[0][1])
    offsets = window_offsets(relative)
    rows = [position + o for o in offsets]
    want = reader.get_sample(0, rows, slice(None)).numpy()
    got = np.stack([view[r] for r in rows]).transpose(0, 2, 3, 1)
    if got.shape != want.shape or not np.array_equal(got, want, equal_nan=True):
        raise UnsupportedError(
            f"dataset {name!r}: fastchunk reads other values than anemoi at dates {rows}; "
            "use the stock loader"
        )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def use_fastchunk(
    datamodule: Any,
    *,
    prefetch: int = 2,
    num_threads: int | None = None,
    stages: tuple[str, ...] = ("training", "validation", "test"),
) -> Any:
    """Makes `datamodule` (anemoi-training's AnemoiDatasetsDataModule) serve
    the batches of its stock dataloaders, in their order, from fastchunk:
    native threads instead of worker processes, batches assembled straight
    into reusable (pinned) buffers. Statistics, metadata and everything else
    the datamodule gives stay anemoi-datasets'. Returns the datamodule.

    Refuses (UnsupportedError) what it cannot reproduce exactly: another
    anemoi-training release, a datamodule, dataset or reader class with its
    own loading code, trajectory datasets, `num_workers` 0 (which the stock
    loader cannot run either), or a dataset whose fastchunk view differs
    from anemoi's (properties, or the values of a window). A stage's datasets
    are checked when its dataloader is first asked for; `check(datamodule)`
    checks them all at once."""
    data_reader, datamodule_mod, multidataset, seeding = _anemoi_training()
    for stage in stages:
        if stage not in STAGES:
            raise ValueError(f"stages: unknown stage {stage!r}, known: {list(STAGES)}")
    _check_methods(
        datamodule, datamodule_mod.AnemoiDatasetsDataModule,
        ("_get_dataloader", "_get_dataset", "train_dataloader", "val_dataloader",
         "test_dataloader"),
        "the datamodule",
    )  # fmt: skip
    if getattr(datamodule, "_fastchunk_stages", None) is not None:
        return datamodule  # already patched (a callback's setup runs once per stage)

    def seed_of(epoch: int) -> int:
        return seeding.derive_seed(seeding.get_base_seed(), seeding.SeedContext.DATALOADER, epoch)

    views: dict[str, dict[str, Dataset]] = {}

    def views_of(stage: str) -> dict[str, Dataset]:
        if stage in views:
            return views[stage]
        ds_attr, _, config_attr = STAGES[stage]
        # fastchunk's views first: what they refuse is refused before anemoi reads
        configs = getattr(datamodule, config_attr)
        opened = {name: open_view(configs[name], data_reader) for name in configs}
        ds = getattr(datamodule, ds_attr)
        if type(ds) is not multidataset.MultiDataset:
            raise UnsupportedError(
                f"{stage}: a {type(ds).__name__}, not anemoi-training's MultiDataset"
            )
        _check_methods(
            ds,
            multidataset.MultiDataset,
            ("__iter__", "per_worker_init", "get_sample", "set_epoch"),
            stage,
        )
        for name, reader in ds.data_readers.items():
            if type(reader) is not data_reader.NativeGridDataset:
                raise UnsupportedError(
                    f"{stage} dataset {name!r} is a {type(reader).__name__}: "
                    "fastchunk.anemoi.training serves NativeGridDataset readers only"
                )
            if reader.default_sampling.get("stride", 1) != 1:
                raise UnsupportedError(f"{stage} dataset {name!r}: sampling other than stride 1")
            _same(name, opened[name], reader, ds.relative_date_indices[name])
        views[stage] = opened
        return opened

    def dataloader(stage: str) -> FastchunkDataLoader:
        ds_attr = STAGES[stage][0]
        dl = datamodule.config.dataloader
        workers = int(dl.num_workers[stage])
        if workers < 1:
            raise UnsupportedError(
                f"dataloader.num_workers.{stage} = {workers}: anemoi-training's loader needs "
                "worker processes (its samples are assigned in worker_init_fn); fastchunk "
                "reproduces the order of 1 or more workers"
            )
        served = views_of(stage)
        LOGGER.info(
            "fastchunk serves the %s dataloader: datasets %s, batch size %d in the order of "
            "%d workers, read by %s threads",
            stage, ", ".join(served), int(dl.batch_size[stage]), workers,
            num_threads if num_threads is not None else fastchunk.get_num_threads(),
        )  # fmt: skip
        return FastchunkDataLoader(
            getattr(datamodule, ds_attr),
            served,
            batch_size=int(dl.batch_size[stage]),
            num_workers=workers,
            persistent_workers=bool(datamodule._use_persistent_workers),
            pin_memory=bool(dl.pin_memory),
            seed_of=seed_of,
            prefetch=prefetch,
            num_threads=num_threads,
        )

    for stage in stages:
        setattr(datamodule, STAGES[stage][1], functools.partial(dataloader, stage))
    datamodule._fastchunk_stages = tuple(stages)
    datamodule._fastchunk_views = views_of
    return datamodule


def check(datamodule: Any, stages: tuple[str, ...] | None = None) -> None:
    """Opens and checks the datasets of `stages` (default: those patched)
    now, instead of when their dataloaders are first asked for."""
    views_of = getattr(datamodule, "_fastchunk_views", None)
    if views_of is None:
        raise ValueError("use_fastchunk(datamodule) first")
    for stage in stages or datamodule._fastchunk_stages:
        views_of(stage)
