"""The loader that stands where anemoi-training's DataLoader stood: the
stock loader's batches, in its order (order.py), read by fastchunk's native
threads straight into reusable (pinned) buffers in anemoi-training's layout
(batch, dates, ensemble, grid, variables), one dict entry per dataset."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from fastchunk.anemoi.view import Dataset
from fastchunk.errors import UnsupportedError
from fastchunk.torch import ArrayDataset, Transform
from fastchunk.torch.loader import Prefetcher

from .order import EpochPlan, StockOrder

# Lightning fetches one batch ahead of the one it trains on: a yielded batch
# must outlive the next request.
KEEP = 2


def window_offsets(relative: Any) -> list[int]:
    """MultiDataset's relative date indices (a slice, an int or a list, as
    normalize_time_indices leaves them) as offsets from the anchor."""
    if isinstance(relative, slice):
        if relative.start is None or relative.stop is None:
            raise UnsupportedError(f"relative date indices {relative} without bounds")
        return list(range(relative.start, relative.stop, relative.step or 1))
    if isinstance(relative, (int, np.integer)):
        raise UnsupportedError(
            "an integer relative date index drops the dates dimension; fastchunk keeps it"
        )
    return [int(o) for o in np.asarray(relative).reshape(-1)]


class _Reader:
    """One dataset of a pass: its fastchunk dataset (window, grid shard,
    anemoi layout) and the item of each of the pass's anchors."""

    def __init__(self, name: str, view: Dataset, plan: EpochPlan) -> None:
        offsets = window_offsets(plan.relative_date_indices[name])
        grid = plan.grid[name]
        self.ds = ArrayDataset(
            view, offsets=offsets, select={3: grid}, transform=Transform(layout="anemoi")
        )
        positions = plan.anchors[:, 1]
        items = np.searchsorted(self.ds.anchors, positions)
        inside = items < self.ds.anchors.size
        if not (inside.all() and (self.ds.anchors[items[inside]] == positions).all()):
            bad = (
                positions[~inside]
                if not inside.all()
                else positions[
                    self.ds.anchors[np.minimum(items, self.ds.anchors.size - 1)] != positions
                ]
            )
            raise UnsupportedError(
                f"dataset {name!r}: anemoi-training samples date {int(bad[0])} with offsets "
                f"{offsets}, which fastchunk's view of it cannot read (a missing date or the "
                "end of the dataset): the two disagree on missing dates"
            )
        self.items = items.astype(np.int64)
        self.key = (offsets, grid.start, grid.stop)


class FastchunkDataLoader:
    """An iterable of batches {name: tensor (batch, dates, ensemble, grid,
    variables)}, those of anemoi-training's DataLoader over `dataset` (a
    MultiDataset) with the same batch size and number of workers, in the same
    order. `dataset` stays the stock MultiDataset: the DDP strategies give it
    the reader-group ranks and grid shards, and each pass reads them.

    A yielded batch lives in a ring of reusable buffers: it stays valid until
    two more batches have been requested (Lightning works on one while it
    fetches the next); clone it to keep it longer."""

    def __init__(
        self,
        dataset: Any,
        views: dict[str, Dataset],
        batch_size: int,
        num_workers: int,
        persistent_workers: bool,
        pin_memory: bool,
        seed_of: Callable[[int], int],
        prefetch: int = 2,
        num_threads: int | None = None,
    ) -> None:
        if prefetch < 1:
            raise ValueError("prefetch must be >= 1")
        self.dataset = dataset
        self.views = views
        self.batch_size = int(batch_size)
        self.num_workers = int(num_workers)
        self.order = StockOrder(dataset, batch_size, num_workers, persistent_workers, seed_of)
        self.pin_memory = bool(pin_memory) and torch.cuda.is_available()
        self.prefetch = int(prefetch)
        self.num_threads = num_threads
        self._slots: tuple[Any, list[dict[str, Any]]] | None = None

    def __repr__(self) -> str:
        return (
            f"<fastchunk.anemoi.training.FastchunkDataLoader {self.dataset.label} "
            f"batch_size={self.batch_size} as with num_workers={self.num_workers}>"
        )

    def _ring(self, readers: dict[str, _Reader]) -> list[dict[str, Any]]:
        key = tuple((n, r.ds.output_shape) for n, r in readers.items())
        if self._slots is None or self._slots[0] != key:
            slots = []
            for _ in range(self.prefetch + KEEP):
                slot: dict[str, Any] = {}
                for name, r in readers.items():
                    shape = (self.batch_size, *r.ds.output_shape)
                    slot[name] = (
                        torch.empty(shape, dtype=r.ds.out_dtype, pin_memory=self.pin_memory),
                        np.empty((self.batch_size, *r.ds.sample_shape), dtype=r.ds.dtype)
                        if r.ds.needs_staging
                        else None,
                    )
                slots.append(_Slot(slot))
            self._slots = (key, slots)
        return self._slots[1]

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        plan = self.order.next_pass()
        readers = {name: _Reader(name, view, plan) for name, view in self.views.items()}

        def fill(slot: _Slot, batch: np.ndarray) -> dict[str, torch.Tensor]:
            out = {}
            n = batch.size
            for name, r in readers.items():
                host, staging = slot.buffers[name]
                out[name] = r.ds.read_batch(r.items[batch], host[:n], staging)
            return out

        run = Prefetcher(self._ring(readers), fill, plan.batches, self.num_threads, keep=KEEP)
        try:
            yield from run
        finally:
            run.close()


class _Slot:
    """One batch's buffers: per dataset (host tensor, staging array or None)."""

    def __init__(self, buffers: dict[str, Any]) -> None:
        self.buffers = buffers
        self.event: Any = None
