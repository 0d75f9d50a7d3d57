"""`fastchunk cache`: what the node's caches hold and how well they serve,
and emptying them. Three kinds: shared decoded-chunk caches (by name, in
shared memory), disk caches of remote objects (by directory), and the
in-memory levels of each live process that has one on (its decoded-chunk
cache and its compressed level: stored bytes of chunks, and the buffer pool
of freed read outputs kept for reuse), published by the process itself."""

from __future__ import annotations

import os
import shutil
from typing import Any

from fastchunk import _core
from fastchunk import cache as shared
from fastchunk.tools.info import _size

ENV_DISK = "FASTCHUNK_CACHE_DIR"


def disk_cache_info(directory: str) -> dict[str, Any] | None:
    try:
        files = _core.FileCache(directory, existing=True)
    except FileNotFoundError:
        return None
    info: dict[str, Any] = dict(files.stats())
    info["directory"] = directory
    return info


def collect(names: list[str], dirs: list[str]) -> list[dict[str, Any]]:
    """One report per cache asked for; with nothing asked, every shared cache
    of the node, the disk cache of FASTCHUNK_CACHE_DIR and the in-memory
    levels of every process that has one on."""
    reports = []
    if not names and not dirs:
        names = shared.list_shared_caches()
        if os.environ.get(ENV_DISK):
            dirs = [os.environ[ENV_DISK]]
        for proc in shared.process_levels():
            reports.append({"kind": "process", **proc})
    for name in names:
        info = shared.shared_cache_info(name)
        if info is None:
            raise FileNotFoundError(f"no shared cache named {name!r} in {shared.shm_root()}")
        reports.append({"kind": "shared", **info})
    for d in dirs:
        info = disk_cache_info(d)
        if info is None:
            raise FileNotFoundError(f"no fastchunk disk cache in {d!r}")
        reports.append({"kind": "disk", **info})
    return reports


def clear(names: list[str], dirs: list[str], remove: bool) -> list[str]:
    """Empties (remove=True: deletes) the caches named; returns what was done."""
    if not names and not dirs:
        raise ValueError("name a shared cache or give --dir")
    done = []
    for name in names:
        if remove:
            shared.remove_shared_cache(name)
            done.append(f"removed shared cache {name!r}")
        elif shared.shared_cache_info(name) is None:
            raise FileNotFoundError(f"no shared cache named {name!r} in {shared.shm_root()}")
        else:
            shared.clear_shared_cache(name)
            done.append(f"cleared shared cache {name!r}")
    for d in dirs:
        if disk_cache_info(d) is None:
            raise FileNotFoundError(f"no fastchunk disk cache in {d!r}")
        if remove:
            shutil.rmtree(d)
            done.append(f"removed disk cache {d}")
        else:
            _core.FileCache(d, existing=True).clear()
            done.append(f"cleared disk cache {d}")
    return done


def _rate(level: dict[str, Any]) -> str:
    lookups = level["hits"] + level["misses"]
    return f"{100 * level['hits'] / lookups:.1f}%" if lookups else "-"


def _format_process(report: dict[str, Any]) -> str:
    lines = [f"process {report['pid']}  in-memory levels"]
    for name in ("compressed", "decoded"):
        level = report[name]
        if not level["capacity"] and not level["entries"]:
            lines.append(f"  {name:10s} off")
            continue
        budget = level["capacity"]
        full = f" ({100 * level['used'] / budget:.1f}%)" if budget else ""
        lines.append(
            f"  {name:10s} {_size(level['used'])} of {_size(budget)}{full}, "
            f"{level['entries']} entries; hits {level['hits']}  misses {level['misses']}  "
            f"hit rate {_rate(level)}  evictions {level['evictions']}"
        )
    pool = report.get("buffer_pool")
    if pool and (pool["used"] or pool["hits"] or pool["misses"]):
        lines.append(_format_pool(pool))
    return "\n".join(lines)


def _format_pool(pool: dict[str, Any]) -> str:
    """The buffer pool's line: capacity is its budget, used the bytes kept,
    entries the buffers kept, hits/misses reused/made, evictions released."""
    budget = pool["capacity"]
    full = f" ({100 * pool['used'] / budget:.1f}%)" if budget else ""
    return (
        f"  {'buffers':10s} {_size(pool['used'])} kept of {_size(budget)}{full}, "
        f"{pool['entries']} buffers; reused {pool['hits']}  made {pool['misses']}  "
        f"released {pool['evictions']}"
    )


def format_report(report: dict[str, Any]) -> str:
    if report["kind"] == "process":
        return _format_process(report)
    lookups = report["hits"] + report["misses"]
    rate = f"{100 * report['hits'] / lookups:.1f}%" if lookups else "-"
    budget = report["budget"]
    full = f" ({100 * report['used'] / budget:.1f}%)" if budget else ""
    title = (
        f"shared cache {report['name']!r}" if report["kind"] == "shared" else "disk cache"
    ) + f"  {report['directory']}"
    return "\n".join(
        [
            title,
            f"  size      {_size(report['used'])} of {_size(budget)}{full}, "
            f"{report['entries']} entries",
            f"  hits      {report['hits']}  misses {report['misses']}  hit rate {rate}",
            f"  inserts   {report['inserts']}  evictions {report['evictions']}  "
            f"waits {report['waits']}  dropped {report['dropped']}",
        ]
    )
