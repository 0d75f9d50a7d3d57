"""`fastchunk info`: what a store holds, what it costs to read, and what is in it.

Everything is computed through the Store protocol (`list_prefix`) and the
Array API, so local and remote stores are handled alike.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from fastchunk import _core
from fastchunk.array import Array
from fastchunk.group import Group, UnreadableNode
from fastchunk.tools.chunking import plan_group_shape
from fastchunk.tools.progress import Progress
from fastchunk.zarr.write import fill_json, float_json

MAX_MISSING_LISTED = 10
SCAN_MEMORY = 512 * 2**20


# ---------------------------------------------------------------- objects


def _object_coords(array: Array, rel: str, grid: Sequence[int]) -> tuple[int, ...] | None:
    """Grid coordinates of a stored key (relative to the array), or None when
    the key is not a chunk (or shard) of the grid."""
    meta = array.metadata
    if not grid:
        return () if rel == meta.zero_dim_key else None
    if not rel.startswith(meta.key_prefix):
        return None
    rest = rel[len(meta.key_prefix) :]
    parts = rest.split(meta.separator)
    if len(parts) != len(grid) and meta.nested_fallback:
        parts = rest.split("/")
    if len(parts) != len(grid):
        return None
    if not all(p.isdigit() for p in parts):
        return None
    coords = tuple(int(p) for p in parts)
    if any(c >= n for c, n in zip(coords, grid, strict=False)):
        return None
    return coords


def _grid(shape: Sequence[int], unit: Sequence[int]) -> tuple[int, ...]:
    return tuple(-(-s // u) for s, u in zip(shape, unit, strict=False))


def _first_missing(grid: Sequence[int], stored: set[tuple[int, ...]], limit: int) -> list:
    out: list[list[int]] = []
    if len(stored) >= math.prod(grid):
        return out
    for coords in itertools.product(*(range(n) for n in grid)):
        if coords not in stored:
            out.append(list(coords))
            if len(out) >= limit:
                break
    return out


def array_report(
    array: Array,
    *,
    axis: int | None = None,
    batch: int | None = None,
    scan: bool = False,
    var_axis: int | None = None,
    progress: bool | None = None,
    memory: int = SCAN_MEMORY,
) -> dict[str, Any]:
    """The report of one array (see `fastchunk info --help` for the keys)."""
    meta = array.metadata
    shape = tuple(array.shape)
    sharded = array.shards is not None
    unit = tuple(array.shards) if sharded else tuple(array.chunks)
    grid = _grid(shape, unit)
    prefix = array.path + "/" if array.path else ""
    nbytes_stored = 0
    nobjects = 0
    chunk_bytes_stored = 0
    stored: set[tuple[int, ...]] = set()
    for key, size in array.store.list_prefix(prefix):
        nobjects += 1
        nbytes_stored += size
        coords = _object_coords(array, key[len(prefix) :], grid)
        if coords is not None and coords not in stored:
            stored.add(coords)
            chunk_bytes_stored += size
    nchunks = math.prod(grid)
    nbytes = array.nbytes
    report: dict[str, Any] = {
        "path": array.path,
        "zarr_format": array.zarr_format,
        "shape": list(shape),
        "dtype": str(array.dtype),
        "chunks": list(array.chunks),
        "shards": list(array.shards) if sharded else None,
        "codecs": array.codecs,
        "fill_value": _json_fill(meta.fill_value),
        "nbytes": nbytes,
        "nbytes_stored": nbytes_stored,
        "nobjects": nobjects,
        # For sharded arrays the grid counted here is the shard grid: shards
        # are the stored objects; `chunks` is the inner chunk shape.
        "grid_unit": "shard" if sharded else "chunk",
        "nchunks": nchunks,
        "nchunks_stored": len(stored),
        "nmissing": nchunks - len(stored),
        "missing_chunks": _first_missing(grid, stored, MAX_MISSING_LISTED),
        "ratio": nbytes / nbytes_stored if nbytes_stored else None,
    }
    if sharded:
        inner_grid = _grid(shape, array.chunks)
        report["inner_chunks_per_shard"] = math.prod(
            s // c for s, c in zip(array.shards or (), array.chunks, strict=False)
        )
        report["ninner_chunks"] = math.prod(inner_grid)
    if axis is not None:
        report["access"] = access_report(array, axis, batch or 1, len(stored), chunk_bytes_stored)
    if scan:
        report.update(scan_report(array, var_axis, progress, memory))
    return report


def _json_fill(fill: np.ndarray) -> Any:
    try:
        return fill_json(fill)
    except Exception:
        return str(fill[()])


# ---------------------------------------------------------------- access pattern


def access_report(
    array: Array, axis: int, batch: int, nobjects_stored: int, object_bytes_stored: int
) -> dict[str, Any]:
    """What one sample (one index along `axis`) and one shuffled batch cost."""
    shape = tuple(array.shape)
    nd = len(shape)
    if not -nd <= axis < nd:
        raise ValueError(f"--axis {axis} is out of range for an array of {nd} dimensions")
    axis %= nd
    if batch < 1:
        raise ValueError("--batch must be at least 1")
    itemsize = array.dtype.itemsize
    chunks = tuple(array.chunks)
    inner_grid = _grid(shape, chunks)
    chunk_nbytes = math.prod(chunks) * itemsize
    per_sample_chunks = math.prod(inner_grid) // max(1, inner_grid[axis])
    sample_nbytes = array.nbytes // max(1, shape[axis])
    # Stored bytes of one decode unit, averaged over the stored objects.
    if array.shards is not None:
        per_shard = math.prod(s // c for s, c in zip(array.shards, chunks, strict=False))
        index_nbytes = array.metadata.shard.index_nbytes if array.metadata.shard else 0
        payload = object_bytes_stored - nobjects_stored * index_nbytes
        stored_chunk = payload / (nobjects_stored * per_shard) if nobjects_stored else 0.0
    else:
        stored_chunk = object_bytes_stored / nobjects_stored if nobjects_stored else 0.0
    rows = min(batch, inner_grid[axis])  # shuffled batch: each sample in its own chunk row
    out: dict[str, Any] = {
        "axis": axis,
        "batch": batch,
        "sample_nbytes": sample_nbytes,
        "batch_nbytes": sample_nbytes * batch,
        "chunks_per_sample": per_sample_chunks,
        "sample_read_nbytes": int(round(per_sample_chunks * stored_chunk)),
        "sample_decode_nbytes": per_sample_chunks * chunk_nbytes,
        "sample_amplification": (
            per_sample_chunks * chunk_nbytes / sample_nbytes if sample_nbytes else None
        ),
        "chunks_per_batch": per_sample_chunks * rows,
        "batch_read_nbytes": int(round(per_sample_chunks * rows * stored_chunk)),
        "batch_decode_nbytes": per_sample_chunks * rows * chunk_nbytes,
        "batch_amplification": (
            per_sample_chunks * rows * chunk_nbytes / (sample_nbytes * batch)
            if sample_nbytes
            else None
        ),
    }
    out["hint"] = _hint(array, axis, out, stored_chunk)
    return out


def _hint(array: Array, axis: int, acc: dict[str, Any], stored_chunk: float) -> str:
    chunks = tuple(array.chunks)
    amp = acc["sample_amplification"] or 0.0
    n = acc["chunks_per_sample"]
    suggestion = ",".join("1" if d == axis else "-1" for d in range(len(chunks)))
    if acc["sample_nbytes"] > 512 * 2**20:
        suggestion = ",".join("1" if d == axis else str(c) for d, c in enumerate(chunks))
    if amp >= 4:
        return (
            f"Chunking does not suit reading by index along axis {axis}: each chunk spans "
            f"{chunks[axis]} indices of that axis, so one sample decodes {amp:.0f}x its size "
            f"({_size(acc['sample_decode_nbytes'])} for {_size(acc['sample_nbytes'])}). "
            f"Transpose the store offline: fastchunk rechunk SRC DST --chunks {suggestion}"
        )
    if n > 64 and stored_chunk < 2**20:
        return (
            f"One sample is split over {n} chunks of about {_size(stored_chunk)} stored: "
            f"{n} reads per sample (requests, on S3). Larger chunks across the other axes "
            f"read a sample in fewer objects: fastchunk rechunk SRC DST --chunks {suggestion}"
        )
    if amp >= 1.5:
        return (
            f"Each sample decodes {amp:.1f}x its size (chunks of {chunks[axis]} along axis "
            f"{axis}); acceptable, but --chunks {suggestion} would read exactly one sample."
        )
    return (
        f"The chunking suits this access pattern: one sample reads {n} chunk(s), "
        f"{_size(acc['sample_read_nbytes'])} stored, {amp:.2f}x its size decoded."
    )


# ---------------------------------------------------------------- scan


def _boxes(
    shape: Sequence[int], chunks: Sequence[int], group: Sequence[int]
) -> Iterator[tuple[list[int], list[int]]]:
    """Regions of `group` chunks each, in C order, clipped to `shape`."""
    step = [g * c for g, c in zip(group, chunks, strict=False)]
    starts = [range(0, s, st) for s, st in zip(shape, step, strict=False)]
    for lo in itertools.product(*starts):
        yield list(lo), [min(a + st, s) for a, st, s in zip(lo, step, shape, strict=False)]


def scan_report(
    array: Array, var_axis: int | None, progress: bool | None, memory: int
) -> dict[str, Any]:
    """NaN count, min, max and mean over the whole array (and per index along
    `var_axis`), reduced by the C++ core over chunk-aligned slabs."""
    dt = array.dtype
    shape = tuple(array.shape)
    nd = len(shape)
    if dt.kind not in "fiub":
        return {
            "nan_count": None,
            "min": None,
            "max": None,
            "mean": None,
            "scan_skipped": f"dtype {dt} is not numeric",
        }
    if var_axis is not None:
        if not -nd <= var_axis < nd:
            raise ValueError(f"--var-axis {var_axis} is out of range for {nd} dimensions")
        var_axis %= nd
    nvar_total = shape[var_axis] if var_axis is not None else 1
    acc = {
        "nan_count": np.zeros(nvar_total, np.int64),
        "count": np.zeros(nvar_total, np.int64),
        "min": np.full(nvar_total, np.inf),
        "max": np.full(nvar_total, -np.inf),
        "sum": np.zeros(nvar_total),
    }
    chunks = tuple(array.chunks)
    if nd == 0:
        boxes: list[tuple[list[int], list[int]]] = [([], [])]
    elif array.size == 0:
        boxes = []
    else:
        one_chunk = math.prod(chunks) * dt.itemsize
        budget = max(memory, 4 * one_chunk)  # a chunk larger than the budget is read alone
        group = plan_group_shape(shape, chunks, chunks, dt.itemsize, budget, 1)
        boxes = list(_boxes(shape, chunks, group))
    with Progress(len(boxes), desc="scan", unit="slab", enabled=progress) as bar:
        for lo, hi in boxes:
            slab = np.empty([h - s for s, h in zip(lo, hi, strict=False)], dtype=dt)
            if nd == 0:
                slab[()] = array[()]
            else:
                array.read_orthogonal(
                    [np.arange(s, h, dtype=np.int64) for s, h in zip(lo, hi, strict=False)], slab
                )
            if var_axis is None:
                outer, nvar = (math.prod(slab.shape[:-1]) if nd else 1), 1
                inner = slab.shape[-1] if nd else 1
                where = slice(0, 1)
            else:
                outer = math.prod(slab.shape[:var_axis])
                nvar = slab.shape[var_axis]
                inner = math.prod(slab.shape[var_axis + 1 :])
                where = slice(lo[var_axis], hi[var_axis])
            res = _core.scan_stats(slab, outer, nvar, inner)
            acc["nan_count"][where] += res["nan_count"]
            acc["count"][where] += res["count"]
            acc["sum"][where] += res["sum"]
            acc["min"][where] = np.minimum(acc["min"][where], res["min"])
            acc["max"][where] = np.maximum(acc["max"][where], res["max"])
            bar.update(1)
    total = (
        _stats(
            int(acc["nan_count"].sum()),
            int(acc["count"].sum()),
            float(acc["min"].min()),
            float(acc["max"].max()),
            float(acc["sum"].sum()),
            dt,
        )
        if nvar_total
        else _stats(0, 0, math.inf, -math.inf, 0.0, dt)
    )
    out: dict[str, Any] = dict(total)
    if var_axis is not None:
        out["var_axis"] = var_axis
        out["per_index"] = [
            _stats(
                int(acc["nan_count"][i]),
                int(acc["count"][i]),
                float(acc["min"][i]),
                float(acc["max"][i]),
                float(acc["sum"][i]),
                dt,
            )
            for i in range(nvar_total)
        ]
    return out


def _stats(nan: int, count: int, lo: float, hi: float, total: float, dt: np.dtype) -> dict:
    def value(x: float) -> Any:
        if count == 0:
            return None
        if dt.kind in "iub":
            return int(x)
        return float_json(x)

    return {
        "nan_count": nan,
        "min": value(lo),
        "max": value(hi),
        "mean": float_json(total / count) if count else None,
    }


# ---------------------------------------------------------------- stores


def store_report(node: Array | Group, **kwargs: Any) -> dict[str, Any]:
    """An array's report, or {"arrays": {path: report}} for a group."""
    if isinstance(node, Array):
        return array_report(node, **kwargs)
    arrays: dict[str, Any] = {}
    base = node.path
    for rel, arr in node.walk_arrays():
        where = f"{base}/{rel}" if base else rel
        if isinstance(arr, UnreadableNode):
            arrays[where] = {"error": f"{type(arr.error).__name__}: {arr.error}"}
        else:
            arrays[where] = array_report(arr, **kwargs)
    return {"arrays": arrays}


# ---------------------------------------------------------------- text


def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def _shape(s: Sequence[int] | None) -> str:
    if s is None:
        return "-"
    return " x ".join(str(v) for v in s) if s else "()"


def _num(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


def format_report(report: dict[str, Any]) -> str:
    """A readable table of a store report."""
    if "arrays" in report:
        if not report["arrays"]:
            return "(group without arrays)"
        return "\n\n".join(_format_array(path, rep) for path, rep in report["arrays"].items())
    return _format_array(report.get("path") or "/", report)


def _format_array(path: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"{path or '/'}\n  cannot be read: {r['error']}"
    unit = "shards" if r["grid_unit"] == "shard" else "chunks"
    rows: list[tuple[str, str]] = [
        ("shape", _shape(r["shape"])),
        ("dtype", r["dtype"]),
        ("chunks", _shape(r["chunks"]) + (" (inner chunks)" if r["shards"] else "")),
        ("shards", _shape(r["shards"])),
        ("codecs", ", ".join(r["codecs"]) or "none"),
        ("fill value", str(r["fill_value"])),
        ("size", f"{_size(r['nbytes'])} decoded ({r['nbytes']:,} B)"),
        (
            "stored",
            f"{_size(r['nbytes_stored'])} in {r['nobjects']:,} objects "
            f"({r['nbytes_stored']:,} B, metadata included)",
        ),
        ("ratio", f"{r['ratio']:.2f}" if r["ratio"] else "-"),
        (
            unit,
            f"{r['nchunks']:,} in the grid, {r['nchunks_stored']:,} stored, "
            f"{r['nmissing']:,} missing",
        ),
    ]
    if r["shards"]:
        rows.append(
            (
                "inner chunks",
                f"{r['ninner_chunks']:,} in the grid, {r['inner_chunks_per_shard']:,} per shard",
            )
        )
    if r["nmissing"]:
        listed = ", ".join("(" + ",".join(map(str, c)) + ")" for c in r["missing_chunks"])
        more = r["nmissing"] - len(r["missing_chunks"])
        rows.append(("missing", listed + (f" and {more:,} more" if more > 0 else "")))
    acc = r.get("access")
    if acc:
        rows += [
            (
                f"sample (axis {acc['axis']})",
                f"{_size(acc['sample_nbytes'])}: reads {acc['chunks_per_sample']:,} chunk(s), "
                f"{_size(acc['sample_read_nbytes'])} stored, decodes "
                f"{_size(acc['sample_decode_nbytes'])} "
                f"(amplification {_num(acc['sample_amplification'])})",
            ),
            (
                f"batch of {acc['batch']}",
                f"{_size(acc['batch_nbytes'])}: reads {acc['chunks_per_batch']:,} chunk(s), "
                f"{_size(acc['batch_read_nbytes'])} stored, decodes "
                f"{_size(acc['batch_decode_nbytes'])} "
                f"(amplification {_num(acc['batch_amplification'])})",
            ),
            ("hint", acc["hint"]),
        ]
    if "nan_count" in r:
        if r.get("scan_skipped"):
            rows.append(("scan", r["scan_skipped"]))
        else:
            rows.append(
                (
                    "scan",
                    f"NaN {r['nan_count']:,}  min {_num(r['min'])}  "
                    f"max {_num(r['max'])}  mean {_num(r['mean'])}",
                )
            )
        for i, s in enumerate(r.get("per_index") or []):
            rows.append(
                (
                    f"  [{i}]",
                    f"NaN {s['nan_count']:,}  min {_num(s['min'])}  "
                    f"max {_num(s['max'])}  mean {_num(s['mean'])}",
                )
            )
    width = max(len(k) for k, _ in rows)
    lines = [f"{path}  (zarr v{r['zarr_format']})"]
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    return "\n".join(lines)
