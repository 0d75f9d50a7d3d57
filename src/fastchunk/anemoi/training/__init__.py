"""anemoi-training on fastchunk.

A stock `anemoi-training train` run gets its batches from fastchunk with one
entry in its config:

    diagnostics:
      callbacks:
        - _target_: fastchunk.anemoi.training.UseFastchunk

Scripts that build `AnemoiDatasetsDataModule` themselves call
`use_fastchunk(datamodule)` instead. Either way the batches are the stock
loader's, in its order, for the same seed, batch size and number of
workers, epoch after epoch, with the same reader-group grid shards and
missing dates; what fastchunk cannot reproduce exactly is refused.
"""

from __future__ import annotations

from typing import Any

from .loader import FastchunkDataLoader
from .order import StockOrder
from .patch import check, use_fastchunk

__all__ = ["FastchunkDataLoader", "StockOrder", "UseFastchunk", "check", "use_fastchunk"]


def __getattr__(name: str) -> Any:
    # The callback subclasses pytorch_lightning's: import it only when asked.
    if name == "UseFastchunk":
        from .callback import UseFastchunk

        return UseFastchunk
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
