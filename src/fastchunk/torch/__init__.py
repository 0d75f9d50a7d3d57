"""PyTorch integration: a map-style dataset, a distributed batch sampler and a
prefetching loader that writes batches into a ring of reusable (pinned) host
buffers and, with a CUDA device, copies them on a side stream.

    loader = fastchunk.torch.Loader("era5.zarr", batch_size=8, offsets=[-1, 0, 1],
                                    normalize=(mean, std), dtype=torch.bfloat16)
    for epoch in range(10):
        loader.set_epoch(epoch)
        for batch in loader:          # (8, 3, variables, ensembles, gridpoints)
            step(batch)

A CPU batch yielded by Loader lives in a ring buffer: it is valid until the
next batch is requested (clone it to keep it), the contract that lets the
loader fill pinned memory once and never allocate per batch.
"""

from fastchunk.torch.dataset import ArrayDataset
from fastchunk.torch.loader import Loader
from fastchunk.torch.sampler import ShardedBatchSampler
from fastchunk.torch.transform import Transform

__all__ = ["ArrayDataset", "Loader", "ShardedBatchSampler", "Transform"]
