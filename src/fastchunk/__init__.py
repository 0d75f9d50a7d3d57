"""fastchunk: read zarr v2/v3 chunked arrays fast, from local disk, S3 or GCS,
straight into numpy arrays and (pinned) torch tensors."""

from __future__ import annotations

import os
from typing import Any

from fastchunk import _core
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


def set_cache_size(nbytes: int | str) -> None:
    """Byte budget of the decoded-chunk cache shared by all arrays of the
    process (an LRU; 0, the default, turns it off). Also FASTCHUNK_CACHE_BYTES."""
    _core.set_cache_size(parse_bytes(nbytes))


def get_cache_info() -> dict[str, int]:
    """capacity, used, hits, misses and evictions of the decoded-chunk cache."""
    return dict(_core.get_cache_info())


def clear_cache() -> None:
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
