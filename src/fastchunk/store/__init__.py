"""Stores: where metadata and chunk objects come from.

local.py reads directories; remote.py reads object stores (S3, HTTP) through
one client module per library (obstore_client, boto_client, http_client)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Protocol

from fastchunk.store.local import LocalStore

__all__ = ["LocalStore", "Store", "open_store"]


class Store(Protocol):
    """What the rest of fastchunk needs from a store."""

    name: str
    local_root: str | None  # a directory the C++ core may read itself, or None

    def get(self, key: str) -> bytes | None: ...

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]: ...

    def list_prefix(self, prefix: str) -> Iterator[tuple[str, int]]: ...

    def list_dir(self, prefix: str) -> list[str]: ...


def open_store(location: object, storage_options: dict | None = None) -> Store:
    """A store for a path or URL."""
    if isinstance(location, str) and location.startswith(("s3://", "http://", "https://")):
        from fastchunk.store.remote import RemoteStore

        return RemoteStore(location, storage_options or {})
    if isinstance(location, (str, os.PathLike)):
        return LocalStore(location)
    if hasattr(location, "get") and hasattr(location, "local_root"):
        return location  # type: ignore[return-value]
    raise TypeError(f"cannot open a store from {type(location).__name__}")
