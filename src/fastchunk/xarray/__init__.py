"""xarray backend: `xr.open_dataset(path_or_url, engine="fastchunk")`.

Variables are lazily indexed arrays over fastchunk.Array: each load
(`ds.isel(time=idx).load()`, `ds["t2m"][10:20].values`) is one native read
per variable, without dask; with `chunks=`, each dask task reads a block of
many stored chunks in one native read (chunking.py). Metadata, attributes,
encoding and CF decoding are as with engine="zarr", so results are identical.
Registered through the `xarray.backends` entry point."""

from __future__ import annotations

from fastchunk.xarray.backend_array import FastchunkBackendArray
from fastchunk.xarray.chunking import preferred_chunks
from fastchunk.xarray.datastore import FastchunkDataStore
from fastchunk.xarray.entrypoint import FastchunkBackendEntrypoint

__all__ = [
    "FastchunkBackendArray",
    "FastchunkBackendEntrypoint",
    "FastchunkDataStore",
    "preferred_chunks",
]
