"""Stores: where metadata and chunk objects come from.

local.py reads directories; remote.py reads object stores (S3, GCS, HTTP)
through one client module per library (obstore_client, boto_client,
gcs_client, http_client)."""

from __future__ import annotations

import os
import re
import urllib.parse

from fastchunk.errors import UnsupportedError
from fastchunk.store.local import LocalStore
from fastchunk.store.protocol import Answer, Request, Store, StoreBase, as_store

__all__ = ["Answer", "LocalStore", "Request", "Store", "StoreBase", "as_store", "open_store"]


REMOTE_SCHEMES = ("s3", "gs", "gcs", "http", "https")
# Schemes users will try that fastchunk cannot read yet, with what to say.
_NOT_YET = {
    "az": "Azure Blob Storage",
    "abfs": "Azure Blob Storage",
    "abfss": "Azure Blob Storage",
    "adl": "Azure Data Lake",
}
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(location: str) -> str | None:
    """The scheme of a `scheme://...` URL, lower case; None for a plain path."""
    match = _URL.match(location)
    return match.group(1).lower() if match else None


def open_store(location: object, storage_options: dict | None = None) -> Store:
    """A store for a path or URL: a directory (or file:// URL), or s3://,
    gs:// (gcs://), http:// or https://. Any other scheme is an
    UnsupportedError naming it, never a local path."""
    if isinstance(location, str):
        scheme = url_scheme(location)
        if scheme in REMOTE_SCHEMES:
            from fastchunk.store.remote import RemoteStore

            return RemoteStore(location, storage_options or {})
        if scheme == "file":
            parsed = urllib.parse.urlparse(location)
            if parsed.netloc not in ("", "localhost"):
                raise UnsupportedError(f"file:// URL with a host ({location!r}) is not supported")
            return LocalStore(urllib.parse.unquote(parsed.path))
        if scheme is not None:
            what = _NOT_YET.get(scheme)
            raise UnsupportedError(
                f"{scheme}:// URLs ({what}) are not supported yet: {location!r}"
                if what
                else f"unsupported URL scheme {scheme + '://'!r} in {location!r}; "
                f"fastchunk reads local paths, file://, s3://, gs://, http:// and https://"
            )
    if isinstance(location, (str, os.PathLike)):
        return LocalStore(location)
    if hasattr(location, "get") and hasattr(location, "local_root"):
        return as_store(location)  # completed by StoreBase's defaults where it lacks a method
    raise TypeError(f"cannot open a store from {type(location).__name__}")
