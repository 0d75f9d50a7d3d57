"""`fastchunk info`: what a store holds, what it costs to read, and what is in it.

Everything is computed through the Store protocol (`list_prefix`) and the
Array API, so local and remote stores are handled alike. A group is listed
once; each array's objects are picked from that listing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastchunk.array import Array
from fastchunk.group import Group, UnreadableNode
from fastchunk.tools.progress import Progress
from fastchunk.tools.scan import SCAN_MEMORY, scan_report
from fastchunk.zarr.chunk_keys import ChunkKeys
from fastchunk.zarr.write import fill_json

MAX_MISSING_LISTED = 10
Listing = list[tuple[str, int]]


# ---------------------------------------------------------------- objects


def _object_coords(keys: ChunkKeys, key: str, grid: Sequence[int]) -> tuple[int, ...] | None:
    """Grid coordinates of a stored key, or None when the key is not a chunk
    (or shard) inside the grid."""
    coords = keys.coords(key)
    if coords is None or any(c >= n for c, n in zip(coords, grid, strict=True)):
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


def list_objects(store: Any, prefix: str, progress: bool | None = None) -> Listing:
    """Every (key, size) under `prefix`, with a progress bar counting them."""
    out: Listing = []
    with Progress(None, desc="list", unit="obj", enabled=progress) as bar:
        for item in store.list_prefix(prefix):
            out.append(item)
            bar.update(1)
    return out


@dataclass
class ArrayObjects:
    """What the listing says of one array: its stored objects and which grid
    units (chunks, or shards when sharded) they are."""

    grid: tuple[int, ...]
    nbytes_stored: int = 0
    nobjects: int = 0
    unit_bytes_stored: int = 0
    stored: set[tuple[int, ...]] = field(default_factory=set)

    @classmethod
    def of(cls, array: Array, listing: Iterable[tuple[str, int]]) -> ArrayObjects:
        unit = tuple(array.shards) if array.shards is not None else tuple(array.chunks)
        found = cls(_grid(tuple(array.shape), unit))
        keys = ChunkKeys.of(array.metadata)
        for key, size in listing:
            found.nobjects += 1
            found.nbytes_stored += size
            coords = _object_coords(keys, key, found.grid)
            if coords is not None and coords not in found.stored:
                found.stored.add(coords)
                found.unit_bytes_stored += size
        return found


def array_report(
    array: Array,
    *,
    axis: int | None = None,
    batch: int | None = None,
    scan: bool = False,
    var_axis: int | None = None,
    progress: bool | None = None,
    memory: int = SCAN_MEMORY,
    listing: Listing | None = None,
    labels: Sequence[str] | None = None,
    rows: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The report of one array (see `fastchunk info --help` for the keys).
    `listing`: the array's objects when the caller listed them already;
    `labels`: names of the indices of `var_axis` (anemoi's variables);
    `rows`: (start, stop) along axis 0 scanned apart too (anemoi's statistics dates)."""
    meta = array.metadata
    shape = tuple(array.shape)
    sharded = array.shards is not None
    prefix = array.path + "/" if array.path else ""
    if listing is None:
        listing = list_objects(array.store, prefix, progress)
    found = ArrayObjects.of(array, listing)
    grid, stored = found.grid, found.stored
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
        "nbytes_stored": found.nbytes_stored,
        "nobjects": found.nobjects,
        # For sharded arrays the grid counted here is the shard grid: shards
        # are the stored objects; `chunks` is the inner chunk shape.
        "grid_unit": "shard" if sharded else "chunk",
        "nchunks": nchunks,
        "nchunks_stored": len(stored),
        "nmissing": nchunks - len(stored),
        "missing_chunks": _first_missing(grid, stored, MAX_MISSING_LISTED),
        "ratio": nbytes / found.nbytes_stored if found.nbytes_stored else None,
    }
    if sharded:
        inner_grid = _grid(shape, array.chunks)
        report["inner_chunks_per_shard"] = math.prod(
            s // c for s, c in zip(array.shards or (), array.chunks, strict=False)
        )
        report["ninner_chunks"] = math.prod(inner_grid)
    if axis is not None:
        report["access"] = access_report(
            array, axis, batch or 1, len(stored), found.unit_bytes_stored
        )
    if scan:
        report.update(scan_report(array, stored, var_axis, progress, memory, labels, rows))
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


# ---------------------------------------------------------------- stores


def _in_array(key: str, prefixes: list[str]) -> str | None:
    """The prefix (an array's path + "/") that holds `key`: the longest one."""
    best = None
    for p in prefixes:
        if key.startswith(p) and (best is None or len(p) > len(best)):
            best = p
    return best


def store_report(
    node: Array | Group,
    *,
    location: str | None = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """An array's report, or for a group {"totals": ..., "arrays": {path:
    report}} and, for an anemoi dataset, "anemoi" (fastchunk.tools.info_anemoi).
    `location`/`storage_options`: where the node was opened (for anemoi's view)."""
    if isinstance(node, Array):
        report = array_report(node, progress=progress, **kwargs)
        report["totals"] = _totals([report], report["nbytes_stored"], report["nobjects"])
        return report
    base = node.path
    prefix = base + "/" if base else ""
    listing = list_objects(node.store, prefix, progress)
    members = [
        (f"{base}/{rel}" if base else rel, arr) for rel, arr in node.walk_arrays()
    ]
    prefixes = [
        (arr.path + "/" if arr.path else "") for _, arr in members if isinstance(arr, Array)
    ]
    by_array: dict[str, Listing] = {p: [] for p in prefixes}
    for key, size in listing:
        owner = _in_array(key, prefixes)
        if owner is not None:
            by_array[owner].append((key, size))
    from fastchunk.tools.info_anemoi import AnemoiInfo, looks_anemoi, open_info

    anemoi = open_info(node, location, storage_options) if looks_anemoi(node) else None
    data_path = f"{base}/data" if base else "data"
    arrays: dict[str, Any] = {}
    for where, arr in members:
        if isinstance(arr, UnreadableNode):
            arrays[where] = {"error": f"{type(arr.error).__name__}: {arr.error}"}
            continue
        options = dict(kwargs)
        if isinstance(anemoi, AnemoiInfo) and arr.path == data_path:
            options.update(anemoi.data_options(options))
        arrays[where] = array_report(
            arr, progress=progress, listing=by_array[arr.path + "/" if arr.path else ""],
            **options,
        )  # fmt: skip
    report: dict[str, Any] = {
        "totals": _totals(
            [r for r in arrays.values() if "error" not in r],
            sum(size for _, size in listing),
            len(listing),
            unreadable=sum(1 for r in arrays.values() if "error" in r),
        ),
        "arrays": arrays,
    }
    if isinstance(anemoi, AnemoiInfo):
        data = node["data"]
        stored = (
            ArrayObjects.of(data, by_array[data.path + "/"]).stored
            if isinstance(data, Array) and data.path + "/" in by_array
            else None
        )
        data_report = arrays.get(data_path)
        report["anemoi"] = anemoi.report(
            data_report if data_report and "error" not in data_report else None, stored
        )
    elif anemoi is not None:
        report["anemoi"] = anemoi
    return report


def _totals(
    reports: list[dict[str, Any]], on_disk: int, objects: int, unreadable: int = 0
) -> dict[str, Any]:
    """Store-wide figures: every object under the node (group metadata and
    stray files included), the decoded size and the chunks of its arrays
    (shards for sharded arrays)."""
    return {
        "bytes_on_disk": on_disk,
        "bytes_decoded": sum(r["nbytes"] for r in reports),
        "objects": objects,
        "arrays": len(reports) + unreadable,
        "chunks_present": sum(r["nchunks_stored"] for r in reports),
        "chunks_missing": sum(r["nmissing"] for r in reports),
        "corrupt_chunks": sum(len(r.get("corrupt_chunks") or []) for r in reports),
    }


def corrupt_count(report: dict[str, Any]) -> int:
    """Corrupt chunks a scan found, over every array of the report."""
    reports = report["arrays"].values() if "arrays" in report else [report]
    return sum(len(r.get("corrupt_chunks") or []) for r in reports)


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
    if "arrays" not in report:
        return _format_array(report.get("path") or "/", report)
    parts = [_format_totals(report["totals"])]
    if "anemoi" in report:
        parts.append(_format_anemoi(report["anemoi"]))
    if not report["arrays"]:
        parts.append("(group without arrays)")
    for path, rep in report["arrays"].items():
        dates = None
        if path.rsplit("/", 1)[-1] == "data" and "missing_dates" in report.get("anemoi", {}):
            a = report["anemoi"]
            stored = set(a.get("declared_missing_dates_stored", []))
            dates = [d for d in a["missing_dates"] if d not in stored]
        parts.append(_format_array(path, rep, dates))
    return "\n\n".join(parts)


def _table(title: str, rows: list[tuple[str, str]]) -> str:
    width = max((len(k) for k, _ in rows), default=0)
    return "\n".join([title] + [f"  {k.ljust(width)}  {v}" for k, v in rows])


def _format_totals(t: dict[str, Any]) -> str:
    rows = [
        ("stored", f"{_size(t['bytes_on_disk'])} in {t['objects']:,} objects "
                   f"({t['bytes_on_disk']:,} B)"),
        ("decoded", f"{_size(t['bytes_decoded'])} in {t['arrays']:,} arrays "
                    f"({t['bytes_decoded']:,} B)"),
        ("chunks", f"{t['chunks_present']:,} stored, {t['chunks_missing']:,} missing"),
    ]  # fmt: skip
    if t.get("corrupt_chunks"):
        rows.append(("corrupt", f"{t['corrupt_chunks']:,} chunks cannot be read"))
    return _table("store", rows)


def _dates(values: list[str], limit: int = MAX_MISSING_LISTED) -> str:
    if not values:
        return "none"
    more = len(values) - limit
    return ", ".join(values[:limit]) + (f" and {more:,} more" if more > 0 else "")


def _format_anemoi(a: dict[str, Any]) -> str:
    if "error" in a:
        return f"anemoi dataset\n  cannot be opened: {a['error']}"
    names = a["variables"]
    rows = [
        ("variables", f"{len(names)}: " + ", ".join(names)),
        ("dates", f"{a['dates']:,} from {a['start_date']} to {a['end_date']}, "
                  f"every {a['frequency'] or '?'}"),
        ("missing dates", f"{len(a['missing_dates']):,}: {_dates(a['missing_dates'])}"),
    ]  # fmt: skip
    if a.get("missing_dates_undeclared"):
        rows.append(("  not declared", _dates(a["missing_dates_undeclared"])))
    if a.get("declared_missing_dates_stored"):
        rows.append(("  declared, stored", _dates(a["declared_missing_dates_stored"])))
    if "statistics_start_date" in a:
        rows.append(("statistics", f"over {a['statistics_start_date']} to "
                                   f"{a['statistics_end_date']}"))  # fmt: skip
    check = a.get("statistics_check")
    if check is not None:
        if "error" in check:
            rows.append(("  check", f"cannot check: {check['error']}"))
        elif check["agree"]:
            rows.append(("  check", "stored mean, stdev, minimum, maximum agree with the scan"))
        else:
            for d in check["disagree"]:
                rows.append((f"  DISAGREE {d['variable']}",
                             f"{d['statistic']} stored {_num(d['stored'])}, "
                             f"scanned {_num(d['scanned'])}"))  # fmt: skip
    nans = {k: v for k, v in (a.get("nan_count") or {}).items() if v}
    if "nan_count" in a:
        rows.append(("NaNs", ", ".join(f"{k} {v:,}" for k, v in nans.items()) or "none"))
    return _table("anemoi dataset", rows)


def _format_array(path: str, r: dict[str, Any], missing_dates: list[str] | None = None) -> str:
    """One array's table; `missing_dates`: the dates of its missing chunks
    (anemoi's "data"), shown instead of their grid coordinates."""
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
    if r["nmissing"] and missing_dates is not None:
        rows.append(("missing", f"dates {_dates(missing_dates)}"))
    elif r["nmissing"]:
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
            rows.append(("scan", _scan_line(r)))
            if r.get("missing_values"):
                rows.append(("  missing", f"{r['missing_values']:,} values in missing chunks "
                                          "(not counted above)"))  # fmt: skip
        for i, s in enumerate(r.get("per_index") or []):
            rows.append((f"  {s.get('name', f'[{i}]')}", _scan_line(s)))
        for c in r.get("corrupt_chunks") or []:
            inner = f" inner chunk {tuple(c['inner_chunk'])}" if "inner_chunk" in c else ""
            rows.append(("CORRUPT", f"{c['key']}{inner}: {c['error']}"))
    return _table(f"{path}  (zarr v{r['zarr_format']})", rows)


def _scan_line(s: dict[str, Any]) -> str:
    return (
        f"NaN {s['nan_count']:,}  min {_num(s['min'])}  max {_num(s['max'])}  "
        f"mean {_num(s['mean'])}  stdev {_num(s.get('stdev'))}"
    )
