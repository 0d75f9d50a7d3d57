"""ShardedBatchSampler: disjoint, balanced rank shares of each epoch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


def _dist_default(rank: int | None, world_size: int | None) -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        rank = dist.get_rank() if rank is None else rank
        world_size = dist.get_world_size() if world_size is None else world_size
    rank = 0 if rank is None else int(rank)
    world_size = 1 if world_size is None else int(world_size)
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in a world of size {world_size}")
    return rank, world_size


def _batch_sizes(n: int, nbatches: int, batch_size: int) -> list[int]:
    """Splits n samples into nbatches batches of at most batch_size, full
    batches first, none empty (n >= nbatches)."""
    sizes = []
    remaining = n
    for i in range(nbatches):
        size = min(batch_size, remaining - (nbatches - i - 1))
        sizes.append(size)
        remaining -= size
    return sizes


class ShardedBatchSampler:
    """Batches of sample positions for one rank, deterministic in (seed, epoch).

    Every epoch is a permutation of all samples (or, with `chunk_ids`, a
    shuffle of chunk groups then of samples within each group), split into
    contiguous, disjoint rank shares; every rank gets the same number of
    batches. drop_last=True: only full batches, the remainder dropped.
    drop_last=False: every sample once; the last batches of a rank may be
    smaller (a sample is repeated only when there are fewer samples than
    batches to fill). Usable as DataLoader(batch_sampler=...)."""

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        chunk_ids: np.ndarray | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.num_samples = int(num_samples)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.rank, self.world_size = _dist_default(rank, world_size)
        if chunk_ids is not None:
            chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
            if chunk_ids.shape != (self.num_samples,):
                raise ValueError("chunk_ids needs one entry per sample")
        self.chunk_ids = chunk_ids
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The global sample order of an epoch (the same on every rank)."""
        n = self.num_samples
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        rng = np.random.default_rng([self.seed, epoch])
        if self.chunk_ids is None:
            return rng.permutation(n).astype(np.int64)
        groups, dense = np.unique(self.chunk_ids, return_inverse=True)
        group_rank = np.empty(groups.size, dtype=np.int64)
        group_rank[rng.permutation(groups.size)] = np.arange(groups.size)
        within = rng.random(n)
        return np.lexsort((within, group_rank[dense])).astype(np.int64)

    def __len__(self) -> int:
        n, w, b = self.num_samples, self.world_size, self.batch_size
        if self.drop_last:
            return n // (w * b)
        per_rank = -(-n // w)
        return -(-per_rank // b)

    def batches(self, epoch: int | None = None) -> list[np.ndarray]:
        epoch = self.epoch if epoch is None else epoch
        order = self.order(epoch)
        n, w, r, b = self.num_samples, self.world_size, self.rank, self.batch_size
        nbatches = len(self)
        if self.drop_last:
            share = order[r * nbatches * b : (r + 1) * nbatches * b]
            return [share[i * b : (i + 1) * b] for i in range(nbatches)]
        share = order[(n * r) // w : (n * (r + 1)) // w]
        if share.size < nbatches:  # too few samples for one per batch: repeat some
            share = np.concatenate([share, np.resize(order, nbatches - share.size)])
        out, start = [], 0
        for size in _batch_sizes(share.size, nbatches, b):
            out.append(share[start : start + size])
            start += size
        return out

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()
