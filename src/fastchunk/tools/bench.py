"""`fastchunk bench`: fastchunk against the other readers on the user's own store.

Every reader reads the same shuffled batches (one index per sample along the
sample axis) in the same process, one after the other, and the first batch of
each is checked against fastchunk's. The machine is shared and noisy: compare
the ratios of one run, not absolute numbers across runs.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import fastchunk
from fastchunk.array import Array

READERS = ("fastchunk", "zarr-python", "zarrs", "tensorstore")
Reader = Callable[[np.ndarray], np.ndarray]


def _pick_array(node: Any, path: str | None) -> tuple[str, Array]:
    if isinstance(node, Array):
        return node.path, node
    arrays = [(rel, a) for rel, a in node.walk_arrays() if isinstance(a, Array)]
    if not arrays:
        raise ValueError("the store holds no array")
    rel, arr = max(arrays, key=lambda item: item[1].nbytes)
    base = node.path
    return (f"{base}/{rel}" if base else rel), arr


def _selection(ndim: int, axis: int, idx: np.ndarray) -> tuple[Any, ...]:
    sel: list[Any] = [slice(None)] * ndim
    sel[axis] = idx
    return tuple(sel)


def _zarr_reader(
    store: str,
    path: str,
    options: dict | None,
    pipeline: str | None,
    threads: int | None,
    axis: int,
) -> Reader:
    import zarr

    config: dict[str, Any] = {}
    if threads:
        config["threading.max_workers"] = threads
    if pipeline:
        config["codec_pipeline.path"] = pipeline
    with zarr.config.set(config):
        z = zarr.open_array(store, path=path or None, mode="r", storage_options=options)

    def read(idx: np.ndarray) -> np.ndarray:
        with zarr.config.set(config):
            return np.asarray(z.oindex[_selection(z.ndim, axis, idx)])

    return read


def _tensorstore_reader(store: str, path: str, fmt: int, threads: int | None, axis: int) -> Reader:
    import tensorstore as ts

    if "://" in store:
        raise RuntimeError("bench runs tensorstore on local stores only")
    spec = {
        "driver": "zarr" if fmt == 2 else "zarr3",
        "kvstore": {"driver": "file", "path": os.path.join(os.path.abspath(store), path)},
    }
    context = None
    if threads:
        context = ts.Context(
            {"data_copy_concurrency": {"limit": threads}, "file_io_concurrency": {"limit": threads}}
        )
    t = ts.open(spec, read=True, context=context).result()

    def read(idx: np.ndarray) -> np.ndarray:
        return np.asarray(t.oindex[_selection(t.ndim, axis, idx)].read().result())

    return read


def _make_reader(
    name: str,
    store: str,
    path: str,
    array: Array,
    options: dict | None,
    threads: int | None,
    axis: int,
) -> Reader:
    if name == "fastchunk":
        return lambda idx: array.take(idx, axis=axis)
    if name == "zarr-python":
        return _zarr_reader(store, path, options, None, threads, axis)
    if name == "zarrs":
        if importlib.util.find_spec("zarrs") is None:
            raise RuntimeError("zarrs is not installed")
        return _zarr_reader(store, path, options, "zarrs.ZarrsCodecPipeline", threads, axis)
    if name == "tensorstore":
        return _tensorstore_reader(store, path, array.zarr_format, threads, axis)
    raise ValueError(f"unknown reader {name!r}; choose from {', '.join(READERS)}")


def run_bench(
    store: str,
    *,
    path: str | None = None,
    axis: int = 0,
    batch: int = 8,
    threads: int | None = None,
    batches: int = 10,
    readers: Sequence[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Times every available reader on `batches` shuffled batches."""
    store = os.fspath(store)
    node = fastchunk.open(store, path, storage_options)
    array_path, array = _pick_array(node, None)
    nd = array.ndim
    if nd == 0:
        raise ValueError("cannot benchmark batches of a 0-d array")
    if not -nd <= axis < nd:
        raise ValueError(f"--axis {axis} is out of range for an array of {nd} dimensions")
    axis %= nd
    n = array.shape[axis]
    if n == 0:
        raise ValueError("the sample axis is empty")
    batch = max(1, min(batch, n))
    if threads:
        fastchunk.set_num_threads(threads)
    rng = np.random.default_rng(seed)
    # One warm-up batch, then the timed ones; the same for every reader.
    index_sets = [np.sort(rng.choice(n, size=batch, replace=False)) for _ in range(batches + 1)]
    sample_nbytes = array.nbytes // n
    batch_nbytes = sample_nbytes * batch
    reference: np.ndarray | None = None
    rows: list[dict[str, Any]] = []
    for name in readers or READERS:
        row: dict[str, Any] = {"reader": name}
        rows.append(row)
        try:
            read = _make_reader(name, store, array_path, array, storage_options, threads, axis)
            first = read(index_sets[0])
        except Exception as e:  # a reader that cannot run is reported, not fatal
            row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
            continue
        if reference is None:
            reference = np.asarray(first)
        row["check"] = (
            "ok"
            if np.array_equal(np.asarray(first), reference, equal_nan=_has_nan(first))
            else "MISMATCH"
        )
        times = []
        for idx in index_sets[1:]:
            t0 = time.perf_counter()
            read(idx)
            times.append(time.perf_counter() - t0)
        median = statistics.median(times)
        row["seconds_per_batch"] = median
        row["mb_per_s"] = batch_nbytes / median / 1e6 if median > 0 else None
    base = next(
        (r for r in rows if r["reader"] == "zarr-python" and "seconds_per_batch" in r), None
    )
    for r in rows:
        if base and "seconds_per_batch" in r:
            r["speedup_vs_zarr"] = base["seconds_per_batch"] / r["seconds_per_batch"]
    return {
        "store": store,
        "array": array_path,
        "shape": list(array.shape),
        "dtype": str(array.dtype),
        "chunks": list(array.chunks),
        "shards": list(array.shards) if array.shards else None,
        "axis": axis,
        "batch": batch,
        "batch_nbytes": batch_nbytes,
        "batches": batches,
        "threads": threads or fastchunk.get_num_threads(),
        "results": rows,
    }


def _has_nan(a: Any) -> bool:
    return np.asarray(a).dtype.kind in "fc"


def format_bench(result: dict[str, Any]) -> str:
    lines = [
        f"store {result['store']}  array {result['array'] or '/'}  shape "
        f"{tuple(result['shape'])}  {result['dtype']}  chunks {tuple(result['chunks'])}"
        + (f"  shards {tuple(result['shards'])}" if result["shards"] else ""),
        f"batches of {result['batch']} random indices along axis {result['axis']} "
        f"({result['batch_nbytes'] / 1e6:.2f} MB), median of {result['batches']}, "
        f"{result['threads']} threads",
        "",
        f"{'reader':<14}{'ms/batch':>12}{'MB/s':>12}{'vs zarr':>10}  check",
    ]
    for r in result["results"]:
        if "error" in r:
            lines.append(f"{r['reader']:<14}{'-':>12}{'-':>12}{'-':>10}  {r['error']}")
            continue
        speed = r.get("speedup_vs_zarr")
        mbs = r.get("mb_per_s")
        lines.append(
            f"{r['reader']:<14}{r['seconds_per_batch'] * 1e3:>12.2f}"
            f"{(f'{mbs:.1f}' if mbs else '-'):>12}"
            f"{(f'{speed:.2f}x' if speed else '-'):>10}  {r['check']}"
        )
    return "\n".join(lines)


def plot_bench(result: dict[str, Any], filename: str) -> None:
    """A bar chart of MB/s per reader, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in result["results"] if "seconds_per_batch" in r]
    names = [r["reader"] for r in done]
    values = [r["mb_per_s"] or 0.0 for r in done]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    bars = ax.bar(
        names, values, color=["#d62728" if n == "fastchunk" else "#7f7f7f" for n in names]
    )
    for bar, r in zip(bars, done, strict=False):
        label = f"{r['seconds_per_batch'] * 1e3:.1f} ms"
        ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("MB/s (decoded)")
    name = result["array"] or os.path.basename(result["store"].rstrip("/"))
    ax.set_title(
        f"{name}: batches of {result['batch']} along axis {result['axis']}, "
        f"{result['threads']} threads",
        fontsize=10,
    )
    ax.set_ylim(0, max(values + [1.0]) * 1.15)
    fig.tight_layout()
    fig.savefig(filename, format="png")
    plt.close(fig)
