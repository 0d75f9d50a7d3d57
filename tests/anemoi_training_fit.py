"""Runs under anemoi-training's environment (.venv-anemoi, fastchunk on
PYTHONPATH), as a subprocess of tests/test_anemoi_training.py:

  python -m tests.anemoi_training_fit DATASET OUT

A real pytorch_lightning Trainer fits a small torch model for two epochs of a
few steps on CPU, with anemoi-training's real AnemoiDatasetsDataModule and,
in its callbacks, what a config's `diagnostics.callbacks` entry
`{_target_: fastchunk.anemoi.training.UseFastchunk}` instantiates (through
hydra, as anemoi-training does). The batches the training and validation
steps see are recorded; then the same datamodule without the callback is
fitted the same way (the stock DataLoader with worker processes). OUT (JSON):
whether they agree, how many batches each side saw, the loader types
Lightning got, and the seconds each fit took."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import numpy as np


def _fit(dataset: str, callback: bool) -> dict[str, Any]:
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from tests.anemoi_training_compare import _config, _task

    def reader(start: Any, end: Any) -> dict[str, Any]:
        return {"data": {"dataset_config": {"dataset": dataset}, "start": start, "end": end}}

    case = {"readers": {"training": reader(None, "2020-01-03T18:00:00"),
                        "validation": reader("2020-01-03", None),
                        "test": reader("2020-01-03", None)},
            "dataloader": {"num_workers": {"training": 2, "validation": 1, "test": 1}}}  # fmt: skip
    from anemoi.training.data.datamodule import AnemoiDatasetsDataModule

    dm = AnemoiDatasetsDataModule(_config(case), _task(case))
    seen: dict[str, list[np.ndarray]] = {"train": [], "val": []}
    loaders: dict[str, str] = {}

    class Tiny(pl.LightningModule):
        """One linear layer over the variables: a real step on every batch."""

        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(6, 6)

        def _loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
            x = torch.nan_to_num(batch["data"])
            return (self.layer(x[:, :2]) - x[:, 2:]).pow(2).mean()

        def training_step(self, batch: dict[str, torch.Tensor], _i: int) -> torch.Tensor:
            seen["train"].append(batch["data"].numpy().copy())
            return self._loss(batch)

        def validation_step(self, batch: dict[str, torch.Tensor], _i: int) -> None:
            seen["val"].append(batch["data"].numpy().copy())

        def on_train_epoch_end(self) -> None:
            dm.set_epoch(self.current_epoch + 1)  # as anemoi-training's module does

        def on_train_start(self) -> None:
            loaders["train"] = type(self.trainer.train_dataloader).__name__

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    entries = OmegaConf.create([{"_target_": "fastchunk.anemoi.training.UseFastchunk"}])
    callbacks = [instantiate(e) for e in entries] if callback else []
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=2, limit_train_batches=3, limit_val_batches=2,
        num_sanity_val_steps=1, callbacks=callbacks, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, use_distributed_sampler=False,
    )  # fmt: skip
    t0 = time.perf_counter()
    trainer.fit(Tiny(), datamodule=dm)
    return {"seen": seen, "seconds": time.perf_counter() - t0, "loaders": loaders,
            "callbacks": [type(c).__name__ for c in callbacks]}  # fmt: skip


def main() -> None:
    logging.disable(logging.WARNING)
    os.environ.setdefault("ANEMOI_BASE_SEED", "1234")
    dataset, out = sys.argv[1], sys.argv[2]
    fast = _fit(dataset, callback=True)
    stock = _fit(dataset, callback=False)
    same = all(
        len(fast["seen"][k]) == len(stock["seen"][k])
        and all(np.array_equal(a, b, equal_nan=True)
                for a, b in zip(fast["seen"][k], stock["seen"][k], strict=True))
        for k in ("train", "val")
    )  # fmt: skip
    result = {
        "same": same,
        "batches": {k: len(v) for k, v in fast["seen"].items()},
        "stock_batches": {k: len(v) for k, v in stock["seen"].items()},
        "loaders": fast["loaders"], "stock_loaders": stock["loaders"],
        "callbacks": fast["callbacks"], "seconds": fast["seconds"],
        "stock_seconds": stock["seconds"],
    }  # fmt: skip
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
