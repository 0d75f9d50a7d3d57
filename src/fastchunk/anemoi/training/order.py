"""The batches anemoi-training's stock loader yields, in its order.

anemoi-training 0.17 (data/multidataset.py) serves a `MultiDataset`, an
IterableDataset, through a torch DataLoader with `num_workers` worker
processes. Every worker, in `per_worker_init`:
  - takes the balanced share `worker_id` of its sample-communication group's
    contiguous shard of the anchors (`len(anchors) // groups` each: the rest
    is dropped, as DDP needs even shards);
  - seeds `np.random.default_rng(derive_seed(base, DATALOADER, epoch))` (the
    same seed in every worker) and draws one `rng.random(1)`;
and in `__iter__`, once per pass, draws `rng.choice(indices, n,
replace=False)` (training) and yields the samples of its share in that order.
A DataLoader asks its workers for batches in turn (worker 0, 1, ... and again),
skipping workers that ran out, each worker filling its batch with its next
`batch_size` samples (the last one may be smaller). Workers that persist
across epochs keep their generator: pass k draws the k-th permutation of the
seed of the epoch they started in.

This module reproduces that order from the MultiDataset's state; the
loader reads the same samples with fastchunk."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpochPlan:
    """What one pass over a MultiDataset reads: its state when the pass (or,
    with persistent workers, the first pass) began, and the batches, as
    positions in `anchors`."""

    epoch: int
    anchors: np.ndarray  # (n, 2) int64: (sequence, position)
    relative_date_indices: dict[str, Any]
    grid: dict[str, slice]  # the reader-group rank's shard of each dataset's grid
    batches: list[np.ndarray]


@dataclass(frozen=True)
class _WorkerState:
    """What a worker process copies from the MultiDataset when it starts."""

    epoch: int
    anchors: np.ndarray
    relative_date_indices: dict[str, Any]
    groups: int
    group: int
    grid: dict[str, slice]


def grid_shards(dataset: Any) -> dict[str, slice]:
    """MultiDataset.get_sample's grid slice of each dataset: the reader-group
    rank's part of `shard_sizes` (set by the DDP strategy), else all of it."""
    shards = {}
    for name in dataset.data_readers:
        sizes = None if dataset.shard_sizes is None else dataset.shard_sizes[name]
        if sizes is None:
            shards[name] = slice(None)
            continue
        rank = int(dataset.reader_group_rank)
        if not 0 <= rank < len(sizes):
            raise ValueError(f"Invalid partition ID {rank}, expected in [0, {len(sizes)})")
        start = int(sum(sizes[:rank]))
        shards[name] = slice(start, start + int(sizes[rank]))
    return shards


def _balanced_range(total: int, parts: int, part: int, offset: int) -> tuple[int, int]:
    """anemoi-models' get_balanced_partition_range: the first `total % parts`
    parts one longer."""
    base, extra = divmod(total, parts)
    start = offset + part * base + min(part, extra)
    return start, start + base + (1 if part < extra else 0)


def interleave(streams: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """A DataLoader's batches over workers yielding `streams`: batch j of
    worker 0, of worker 1, ..., then batch j + 1; exhausted workers skipped."""
    per_worker = [[s[i : i + batch_size] for i in range(0, s.size, batch_size)] for s in streams]
    rounds = max((len(b) for b in per_worker), default=0)
    return [b[j] for j in range(rounds) for b in per_worker if j < len(b)]


def worker_streams(
    order: np.ndarray, num_workers: int, groups: int, group: int
) -> list[np.ndarray]:
    """The samples each worker yields, from the pass's order of all anchors."""
    shard = order.size // groups
    start = group * shard
    return [
        order[slice(*_balanced_range(shard, num_workers, w, start))] for w in range(num_workers)
    ]


class StockOrder:
    """The stock loader's batches of a MultiDataset, pass after pass.

    `seed_of(epoch)` is anemoi-training's derive_seed(get_base_seed(),
    SeedContext.DATALOADER, epoch), read when a pass starts workers."""

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        num_workers: int,
        persistent_workers: bool,
        seed_of: Any,
    ) -> None:
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.persistent = bool(persistent_workers)
        self.seed_of = seed_of
        self._started: _WorkerState | None = None
        self._rng: np.random.Generator | None = None

    def _start(self) -> _WorkerState:
        """The state workers copy when they start, and their generator."""
        ds = self.dataset
        state = _WorkerState(
            int(ds.epoch),
            np.asarray(ds.anchors).copy(),
            dict(ds.relative_date_indices),
            int(ds.sample_comm_num_groups),
            int(ds.sample_comm_group_id),
            grid_shards(ds),
        )
        self._rng = np.random.default_rng(seed=self.seed_of(state.epoch))
        self._rng.random(1)  # per_worker_init's sanity draw
        return state

    def next_pass(self) -> EpochPlan:
        """The batches of the next pass (an epoch, a validation run)."""
        if self._started is None or not self.persistent:
            self._started = self._start()
        s = self._started
        assert self._rng is not None
        valid = np.arange(len(s.anchors), dtype=np.int64)
        if self.dataset.shuffle:
            order = self._rng.choice(valid, size=len(valid), replace=False)
        else:
            order = valid
        streams = worker_streams(order, self.num_workers, s.groups, s.group)
        batches = interleave(streams, self.batch_size)
        return EpochPlan(s.epoch, s.anchors, s.relative_date_indices, s.grid, batches)
