"""The node-wide level of the decoded-chunk cache: chunks decoded once per
node and kept in shared memory for every process that names the same cache.

A cache named NAME lives in /dev/shm/fastchunk-NAME/ (or under
FASTCHUNK_SHM_DIR): one file per decoded chunk, written under a temporary name
and renamed, read with mmap, evicted oldest-first by whichever process finds
the node's byte budget exceeded. Processes killed at any moment leave it
usable (csrc/cache/file_cache.h says how).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import warnings
from typing import Any

from fastchunk import _core
from fastchunk._units import parse_bytes

ENV_SHARED = "FASTCHUNK_SHARED_CACHE"  # NAME:SIZE, e.g. era5:32GB
ENV_SHM_DIR = "FASTCHUNK_SHM_DIR"
PREFIX = "fastchunk-"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}")

__all__ = [
    "clear_shared_cache",
    "list_shared_caches",
    "remove_shared_cache",
    "set_shared_cache",
    "shared_cache_dir",
    "shared_cache_info",
    "shared_cache_name",
]


def shm_root() -> str:
    """Where shared caches live: FASTCHUNK_SHM_DIR, else /dev/shm, else the temp dir."""
    root = os.environ.get(ENV_SHM_DIR)
    if root:
        return root
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"a shared cache name is 1-100 letters, digits, '_', '.' or '-' "
            f"(not starting with '.' or '-'), got {name!r}"
        )
    return name


def shared_cache_dir(name: str) -> str:
    return os.path.join(shm_root(), PREFIX + check_name(name))


_setting: tuple[str, int] | None = None  # (name, budget) this process uses


def set_shared_cache(name: str, nbytes: int | str) -> None:
    """Uses the node-wide cache `name` with a budget of `nbytes` for the whole
    node (the last process to set it wins); 0 stops this process using it.
    Forked children keep the setting; Arrays pickled to spawned or forkserver
    workers (DataLoader) carry it; other processes name the cache themselves
    (this call, or FASTCHUNK_SHARED_CACHE=NAME:SIZE)."""
    global _setting
    budget = parse_bytes(nbytes)
    _core.set_shared_cache(shared_cache_dir(name), budget)
    _setting = (name, budget) if budget else None


def shared_cache_setting() -> tuple[str, int] | None:
    """(name, budget) of the shared cache this process uses, or None."""
    return _setting if shared_cache_name() is not None else None


def shared_cache_name() -> str | None:
    """The name of the shared cache this process uses, or None."""
    directory = _core.shared_cache_dir()
    if directory is None:
        return None
    return os.path.basename(directory)[len(PREFIX) :]


def _open(name: str) -> Any:
    try:
        return _core.FileCache(shared_cache_dir(name), mapped=True, checksum=False, existing=True)
    except FileNotFoundError:
        return None


def shared_cache_info(name: str) -> dict[str, Any] | None:
    """budget, used (bytes), entries, hits, misses, inserts (chunks decoded
    and stored), evictions, waits (hits that waited for another process's
    decode), dropped, and the directory; None when there is no such cache."""
    cache = _open(name)
    if cache is None:
        return None
    info: dict[str, Any] = dict(cache.stats())
    info["name"] = name
    info["directory"] = cache.directory
    return info


def clear_shared_cache(name: str) -> None:
    """Removes every chunk of the cache and zeroes its counters; processes
    using it go on using it."""
    cache = _open(name)
    if cache is not None:
        cache.clear()


def remove_shared_cache(name: str) -> None:
    """Deletes the cache's directory. Processes still attached keep their
    mapped chunks but store nothing more until they set it again."""
    global _setting
    if shared_cache_name() == name:
        _core.set_shared_cache(shared_cache_dir(name), 0)
        _setting = None
    shutil.rmtree(shared_cache_dir(name), ignore_errors=True)


def list_shared_caches() -> list[str]:
    """Names of the shared caches on this node (under shm_root())."""
    try:
        names = os.listdir(shm_root())
    except OSError:
        return []
    root = shm_root()
    return sorted(
        n[len(PREFIX) :]
        for n in names
        if n.startswith(PREFIX) and os.path.isfile(os.path.join(root, n, "control"))
    )


_published = False


def publish_process_levels() -> None:
    """Publishes this process's in-memory levels (decoded chunks, compressed
    bytes) beside the node's shared caches, for `fastchunk cache`; the page
    goes when the process exits."""
    global _published
    try:
        _core.publish_process_stats(shm_root())
    except OSError as e:  # a directory another user could change: the caches work, unseen
        warnings.warn(f"fastchunk cache will not show this process: {e}", RuntimeWarning,
                      stacklevel=3)
        return
    if not _published:
        _published = True
        atexit.register(_core.unpublish_process_stats_)


def watch_process_levels() -> None:
    """Names where this process's page goes (beside the node's shared
    caches) without opening it: it opens when a level has something to show,
    such as a buffer pool keeping 64 MiB or more of freed read outputs. Runs
    at import; the page goes when the process exits."""
    global _published
    _core.set_process_stats_directory(shm_root())
    if not _published:
        _published = True
        atexit.register(_core.unpublish_process_stats_)


def process_levels() -> list[dict[str, Any]]:
    """The in-memory levels of every live process on this node that has one
    on: [{"pid", "decoded": numbers, "compressed": numbers, "buffer_pool":
    numbers}], numbers being capacity, used, entries, hits, misses,
    evictions (for the buffer pool: budget, bytes kept, buffers kept, reused,
    made, released to the OS)."""
    return [{"pid": pid, **levels} for pid, levels in _core.published_processes(shm_root())]


def parse_env(value: str) -> tuple[str, int]:
    """NAME:SIZE from FASTCHUNK_SHARED_CACHE."""
    name, sep, size = value.partition(":")
    if not sep or not size:
        raise ValueError(f"{ENV_SHARED} must be NAME:SIZE (e.g. era5:32GB), got {value!r}")
    return check_name(name.strip()), parse_bytes(size.strip())
