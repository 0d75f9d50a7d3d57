"""The zarr format: metadata (v2 and v3), data types and fill values, chunk
keys, node discovery and consolidated metadata, and the numcodecs fallback
for codecs the C++ core does not implement; `CodecPipeline`, fastchunk's
codec pipeline for zarr-python (imported on first use: zarr-python is optional)."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "CodecPipeline":
        from fastchunk.zarr.pipeline import CodecPipeline

        return CodecPipeline
    raise AttributeError(f"module 'fastchunk.zarr' has no attribute {name!r}")
