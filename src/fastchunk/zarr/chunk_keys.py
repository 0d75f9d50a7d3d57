"""Chunk keys: building and parsing the object keys of an array's chunks (or
shards). The implementation is the core's (csrc/engine/chunk_keys.cc), the
one the reads use, so Python and C++ never disagree on a key."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastchunk import _core

if TYPE_CHECKING:
    from fastchunk.zarr.metadata import ArrayMeta


class ChunkKeys:
    """The keys of one array's stored objects (chunks, or shards when sharded)."""

    def __init__(
        self,
        path: str,
        ndim: int,
        prefix: str,
        separator: str,
        zero_dim_key: str,
        nested_fallback: bool = False,
    ) -> None:
        """`path`: the array's key prefix in the store ("" or "a/b/")."""
        if path and not path.endswith("/"):
            path += "/"
        self._encoding = _core.ChunkKeyEncoding(
            path, ndim, prefix, separator, zero_dim_key, nested_fallback
        )
        self.separator = separator

    @classmethod
    def of(cls, meta: ArrayMeta) -> ChunkKeys:
        """The keys an array's metadata prescribes."""
        return cls(meta.path, meta.ndim, meta.key_prefix, meta.separator, meta.zero_dim_key,
                   meta.nested_fallback)  # fmt: skip

    @classmethod
    def default(cls, zarr_format: int, path: str, ndim: int) -> ChunkKeys:
        """The default encoding of a format: v2 "0.1", v3 "c/0/1"."""
        if zarr_format == 2:
            return cls(path, ndim, "", ".", "0")
        return cls(path, ndim, "c/", "/", "c")

    def key(self, coords: Sequence[int]) -> str:
        """The key of the object at grid coordinates `coords`."""
        return str(self._encoding.key(coords))

    def nested_key(self, coords: Sequence[int]) -> str:
        """The key with '/' between coordinates (v2 stores written nested)."""
        return str(self._encoding.key(coords, "/"))

    def coords(self, key: str) -> tuple[int, ...] | None:
        """The grid coordinates `key` names, or None when it names no object of
        the array (metadata, another array's chunk, a stray file). With the v2
        nested fallback, '/'-separated keys are understood too."""
        return self._encoding.coords(key)
