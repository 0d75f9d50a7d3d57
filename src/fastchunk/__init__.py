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
from fastchunk.errors import (
    ChunkDecodeError,
    FastchunkError,
    MetadataError,
    MissingBucketError,
    RemoteAccessError,
    RemoteStoreError,
    UnsupportedError,
)
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
    "MissingBucketError",
    "RemoteAccessError",
    "RemoteStoreError",
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
    store: Any,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    *,
    branch: str | None = None,
    tag: str | None = None,
    snapshot: str | None = None,
    authorize_virtual_chunk_access: dict[str, Any] | None = None,
) -> Array | Group:
    """Opens the array or group at `store` (a directory, or an s3://, gs://
    or https:// URL), optionally at `path` inside it.

    An Icechunk repository is recognised by its layout and read at a branch
    (default "main"), a tag or a snapshot id (at most one of the three).
    Virtual chunks are read only under the URL prefixes
    `authorize_virtual_chunk_access` maps to storage_options (None for the
    defaults, or for local files); see fastchunk.icechunk."""
    md = _metadata_reader(
        store, storage_options, branch, tag, snapshot, authorize_virtual_chunk_access
    )
    return open_node(md, path or "")


def _metadata_reader(
    location: Any,
    storage_options: dict[str, Any] | None,
    branch: str | None,
    tag: str | None,
    snapshot: str | None,
    authorize: dict[str, Any] | None,
) -> MetadataReader:
    from fastchunk import icechunk

    store = open_store(location, storage_options)
    wants_repo = branch is not None or tag is not None or snapshot is not None
    if isinstance(store, icechunk.SnapshotStore):
        if wants_repo or authorize is not None:
            raise ValueError(f"{store.name} is already one snapshot of a repository")
        return MetadataReader(store)
    found = icechunk.fetch_markers(store, also=(".zmetadata", "zarr.json"))
    repo = icechunk.probe(store, found)
    if repo is None:
        if wants_repo:
            raise ValueError(
                f"{store.name} is no Icechunk repository: branch, tag and snapshot "
                f"apply to Icechunk repositories only"
            )
        if authorize is not None:
            raise ValueError(
                f"{store.name} is no Icechunk repository: "
                f"authorize_virtual_chunk_access does not apply"
            )
        return MetadataReader(store, prefetched=found)
    snap = icechunk.open_snapshot(location, storage_options, repo, branch, tag, snapshot, authorize)
    return MetadataReader(snap)


def open_array(
    store: Any,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **icechunk_options: Any,
) -> Array:
    node = open(store, path, storage_options, **icechunk_options)
    if not isinstance(node, Array):
        raise MetadataError(f"{node!r} is a group, not an array")
    return node


def open_group(
    store: Any,
    path: str | None = None,
    storage_options: dict[str, Any] | None = None,
    **icechunk_options: Any,
) -> Group:
    node = open(store, path, storage_options, **icechunk_options)
    if not isinstance(node, Group):
        raise MetadataError(f"{node!r} is an array, not a group")
    return node


def set_num_threads(n: int) -> None:
    """Native threads used for decoding (n < 1: every core this process may use)."""
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    return int(_core.get_num_threads())


def set_cache_size(
    nbytes: int | str, shared: str | None = None, compressed: bool = False
) -> None:
    """Byte budget of the decoded-chunk cache shared by all arrays of the
    process (an LRU; 0, the default, turns it off). Also FASTCHUNK_CACHE_BYTES.

    With shared=NAME, the budget is that of the node-wide cache NAME instead:
    chunks decoded once per node, in shared memory, for every process that
    names it (DataLoader workers, torchrun ranks, other jobs). Also
    FASTCHUNK_SHARED_CACHE=NAME:SIZE. See fastchunk.cache.

    With compressed=True, the budget is that of the compressed level: the
    stored bytes of chunks kept in memory (an LRU of the process), which
    holds the compression ratio's worth more chunks than the decoded cache in
    the same memory and costs a decode per hit. It keeps what object stores
    send and what local reads copy (network filesystems, small chunks); large
    local files on local disks are decoded straight from the page cache and
    need no copy. Also FASTCHUNK_COMPRESSED_CACHE_BYTES. See docs/caches.md."""
    if shared is not None:
        if compressed:
            raise ValueError("the compressed level is per process: no shared=NAME")
        _cache.set_shared_cache(shared, nbytes)
        return
    budget = parse_bytes(nbytes)
    if compressed:
        _core.set_compressed_cache_size(budget)
    else:
        _core.set_cache_size(budget)
    if budget:
        _cache.publish_process_levels()


def get_cache_info(shared: str | None = None) -> dict[str, Any]:
    """capacity, used, hits, misses and evictions of the process's decoded-
    chunk cache, `compressed`, the same numbers (and entries) of the
    compressed level, `shared`, the name of the node-wide cache in use (or
    None), and `buffer_pool`: the freed read outputs kept for reuse (budget,
    kept_bytes, kept_buffers, reused, made, released: buffers given back to
    the OS; FASTCHUNK_BUFFER_POOL_BYTES sets the budget). With shared=NAME:
    that node-wide cache's numbers (fastchunk.cache.shared_cache_info)."""
    if shared is not None:
        info = _cache.shared_cache_info(shared)
        if info is None:
            raise FileNotFoundError(f"no shared cache named {shared!r} on this node")
        return info
    info = dict(_core.get_cache_info())
    info["compressed"] = _core.get_compressed_cache_info()
    info["shared"] = _cache.shared_cache_name()
    info["buffer_pool"] = _core.buffer_pool_info()
    return info


def clear_cache(shared: str | None = None, compressed: bool = False) -> None:
    """Empties the process's decoded-chunk cache (compressed=True: its
    compressed level), or the node-wide cache NAME."""
    if shared is not None:
        _cache.clear_shared_cache(shared)
        return
    if compressed:
        _core.clear_compressed_cache()
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
_cache.watch_process_levels()
if os.environ.get("FASTCHUNK_CACHE_BYTES"):
    set_cache_size(os.environ["FASTCHUNK_CACHE_BYTES"])
if os.environ.get("FASTCHUNK_COMPRESSED_CACHE_BYTES"):
    set_cache_size(os.environ["FASTCHUNK_COMPRESSED_CACHE_BYTES"], compressed=True)
if os.environ.get(_cache.ENV_SHARED):
    _name, _size = _cache.parse_env(os.environ[_cache.ENV_SHARED])
    set_cache_size(_size, shared=_name)
