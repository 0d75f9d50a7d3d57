"""fastchunk: read zarr v2/v3 chunked arrays fast, from local disk, S3 or GCS,
straight into numpy arrays and (pinned) torch tensors."""

from __future__ import annotations

import os
from typing import Any

from fastchunk import _core
from fastchunk import cache as _cache
from fastchunk._units import parse_bytes
from fastchunk._version import __version__
from fastchunk.array import Array
from fastchunk.errors import ChunkDecodeError, FastchunkError, MetadataError, UnsupportedError
from fastchunk.group import Group, open_node
from fastchunk.store import open_store
from fastchunk.zarr.fallback import SlowCodecWarning
from fastchunk.zarr.hierarchy import MetadataReader

__all__ = [
    "Array",
    "ChunkDecodeError",
    "FastchunkError",
    "Group",
    "MetadataError",
    "SlowCodecWarning",
    "UnsupportedError",
    "__version__",
    "clear_cache",
    "get_cache_info",
    "get_num_threads",
    "open",
    "open_array",
    "open_group",
    "parse_bytes",
    "set_cache_size",
    "set_num_threads",
]


def open(
    store: Any, path: str | None = None, storage_options: dict[str, Any] | None = None
) -> Array | Group:
    """Opens the array or group at `store` (a directory, or an s3://, gs://
    or https:// URL), optionally at `path` inside it."""
    md = MetadataReader(open_store(store, storage_options))
    return open_node(md, path or "")


def open_array(
    store: Any, path: str | None = None, storage_options: dict[str, Any] | None = None
) -> Array:
    node = open(store, path, storage_options)
    if not isinstance(node, Array):
        raise MetadataError(f"{node!r} is a group, not an array")
    return node


def open_group(
    store: Any, path: str | None = None, storage_options: dict[str, Any] | None = None
) -> Group:
    node = open(store, path, storage_options)
    if not isinstance(node, Group):
        raise MetadataError(f"{node!r} is an array, not a group")
    return node


def set_num_threads(n: int) -> None:
    """Native threads used for decoding (n < 1: every core this process may use)."""
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    return int(_core.get_num_threads())


def set_cache_size(nbytes: int | str, shared: str | None = None) -> None:
    """Byte budget of the decoded-chunk cache shared by all arrays of the
    process (an LRU; 0, the default, turns it off). Also FASTCHUNK_CACHE_BYTES.

    With shared=NAME, the budget is that of the node-wide cache NAME instead:
    chunks decoded once per node, in shared memory, for every process that
    names it (DataLoader workers, torchrun ranks, other jobs). Also
    FASTCHUNK_SHARED_CACHE=NAME:SIZE. See fastchunk.cache."""
    if shared is not None:
        _cache.set_shared_cache(shared, nbytes)
        return
    _core.set_cache_size(parse_bytes(nbytes))


def get_cache_info(shared: str | None = None) -> dict[str, Any]:
    """capacity, used, hits, misses and evictions of the process's decoded-
    chunk cache, and `shared`, the name of the node-wide cache in use (or None).
    With shared=NAME: that node-wide cache's numbers (fastchunk.cache.shared_cache_info)."""
    if shared is not None:
        info = _cache.shared_cache_info(shared)
        if info is None:
            raise FileNotFoundError(f"no shared cache named {shared!r} on this node")
        return info
    info = dict(_core.get_cache_info())
    info["shared"] = _cache.shared_cache_name()
    return info


def clear_cache(shared: str | None = None) -> None:
    """Empties the process's decoded-chunk cache, or the node-wide cache NAME."""
    if shared is not None:
        _cache.clear_shared_cache(shared)
        return
    _core.clear_cache()


def _threads_from_env() -> None:
    value = os.environ.get("FASTCHUNK_NUM_THREADS")
    if value:
        try:
            set_num_threads(int(value))
        except ValueError:
            raise ValueError(f"FASTCHUNK_NUM_THREADS must be an integer, got {value!r}") from None


_threads_from_env()
if os.environ.get("FASTCHUNK_CACHE_BYTES"):
    set_cache_size(os.environ["FASTCHUNK_CACHE_BYTES"])
if os.environ.get(_cache.ENV_SHARED):
    _name, _size = _cache.parse_env(os.environ[_cache.ENV_SHARED])
    set_cache_size(_size, shared=_name)
