"""UseFastchunk: the Lightning callback that a stock `anemoi-training train`
run enables from its config:

    diagnostics:
      callbacks:
        - _target_: fastchunk.anemoi.training.UseFastchunk
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

from fastchunk.errors import UnsupportedError

from .patch import STAGES, check, use_fastchunk


class UseFastchunk(pl.Callback):
    """Serves the train, validation and test dataloaders of anemoi-training's
    datamodule from fastchunk (see `use_fastchunk`): the stock loader's
    batches in its order, read by native threads. Its `setup` runs before
    Lightning asks for any dataloader, and checks the datasets of the stage
    about to run: what fastchunk cannot reproduce exactly stops the run
    there with an UnsupportedError saying why.

    `prefetch`: batches read ahead; `num_threads`: the threads reading them
    (default: fastchunk's, every core the process may use)."""

    def __init__(
        self,
        prefetch: int = 2,
        num_threads: int | None = None,
        stages: Any = ("training", "validation", "test"),
    ) -> None:
        super().__init__()
        self.prefetch = int(prefetch)
        self.num_threads = None if num_threads is None else int(num_threads)
        self.stages = tuple(stages)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        datamodule = trainer.datamodule
        if datamodule is None:
            raise UnsupportedError(
                "UseFastchunk serves a datamodule's dataloaders; this run has none"
            )
        use_fastchunk(
            datamodule, prefetch=self.prefetch, num_threads=self.num_threads, stages=self.stages
        )
        wanted = {"fit": ("training", "validation"), "validate": ("validation",),
                  "test": ("test",)}.get(stage, ())  # fmt: skip
        check(datamodule, tuple(s for s in wanted if s in self.stages and s in STAGES))
