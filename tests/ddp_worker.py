"""Run by tests/test_torch_ddp.py under `torchrun --nproc_per_node=2`: each
rank iterates a Loader whose rank/world_size come from torch.distributed and
writes the dates it saw, batch by batch, to OUT_DIR/rank<r>.json."""

from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist

from fastchunk.torch import Loader


def main() -> None:
    store, out_dir = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    result: dict[str, object] = {"world_size": dist.get_world_size()}
    for drop_last in (False, True):
        loader = Loader(store, batch_size=4, seed=9, drop_last=drop_last)
        epochs = []
        for epoch in range(2):
            loader.set_epoch(epoch)
            batches = []
            for batch in loader:
                batches.append([int(x) for x in batch[:, 0]])
                # every rank must reach every collective: equal batch counts
                dist.all_reduce(torch.ones(1))
            epochs.append(batches)
        result[f"drop_last={drop_last}"] = {"len": len(loader), "epochs": epochs}
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
