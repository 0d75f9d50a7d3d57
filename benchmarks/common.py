"""Shared by the benchmark scripts: store layout, names and paths."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE / "data"
RESULTS_DIR = HERE / "results"
BUILD_DIR = HERE / "build"


def warn_if_stale_fastchunk() -> None:
    """Warns when the fastchunk these scripts would import is an installed
    copy older than the checkout's own build (a development tree whose
    src/fastchunk holds a newer _core): run them with PYTHONPATH=src."""
    src = HERE.parent / "src" / "fastchunk"
    built = sorted(src.glob("_core*.so"))
    spec = importlib.util.find_spec("fastchunk")
    if not built or spec is None or spec.origin is None:
        return
    origin = Path(spec.origin).resolve().parent
    if origin == src.resolve():
        return
    installed = sorted(origin.glob("_core*.so"))
    if installed and installed[0].stat().st_mtime < built[0].stat().st_mtime:
        print(f"warning: importing fastchunk from {origin}, older than the build in {src}: "
              f"run with PYTHONPATH={src.parent} to measure the checkout", file=sys.stderr)


warn_if_stale_fastchunk()

DEFAULT_DATES = 512
DEFAULT_VARIABLES = 16
DEFAULT_POINTS = 40320  # an o96 grid
QUICK_DATES = 64
QUICK_VARIABLES = 8
QUICK_POINTS = 8192

SHARD_DATES = 16

# encoding name -> what it is (the names are used in paths and tables)
ENCODINGS = {
    "zstd": "zarr v3, zstd level 3, one chunk per date",
    "blosc": "zarr v2, Blosc lz4 clevel 5 shuffle, one chunk per date (anemoi)",
    "sharded": f"zarr v3 sharded, {SHARD_DATES} dates per shard, inner chunk one date, zstd 3",
}


@dataclass(frozen=True)
class StoreSize:
    dates: int
    variables: int
    points: int

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.dates, self.variables, 1, self.points)

    @property
    def chunk_bytes(self) -> int:
        return self.variables * self.points * 4

    @property
    def nbytes(self) -> int:
        return self.dates * self.chunk_bytes

    def tag(self) -> str:
        return f"{self.dates}x{self.variables}x{self.points}"


def store_path(encoding: str, size: StoreSize) -> Path:
    return DATA_DIR / f"{encoding}-{size.tag()}.zarr"


def store_is_complete(path: Path, size: StoreSize) -> bool:
    """True when the store at `path` was fully written with this shape (the
    writer sets the attribute `complete` last)."""
    for name in ("zarr.json", ".zarray"):
        meta = path / name
        if meta.exists():
            shape = json.loads(meta.read_text())["shape"]
            break
    else:
        return False
    attrs: dict = {}
    if (path / "zarr.json").exists():
        attrs = json.loads((path / "zarr.json").read_text()).get("attributes", {})
    elif (path / ".zattrs").exists():
        attrs = json.loads((path / ".zattrs").read_text())
    return tuple(shape) == size.shape and bool(attrs.get("complete"))
