"""What engine="zarr" puts in a variable's `encoding` and attributes, built
from the metadata documents fastchunk already read, so that a dataset opened
with engine="fastchunk" decodes, compares and writes back (to_zarr) as one
opened with engine="zarr".

The codec objects (`compressors`, `filters`, `serializer`) are zarr-python's
own, made from the same documents by zarr's metadata classes: they only serve
to write the data back with zarr, so without zarr-python they are left out."""

from __future__ import annotations

import os
from typing import Any

from fastchunk.zarr.metadata import ArrayMeta

DIMENSION_KEY = "_ARRAY_DIMENSIONS"


def dims_and_attrs(
    meta: ArrayMeta, doc: dict[str, Any], attrs: dict[str, Any], where: str
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """Dimension names and the attributes xarray sees, as xarray's zarr
    backend finds them: v3 `dimension_names`; v2 the `_ARRAY_DIMENSIONS`
    attribute (hidden from the attributes, with NCZarr's `_nc*` ones), or
    NCZarr's `_NCZARR_ARRAY.dimrefs`."""
    if meta.zarr_format == 3:
        dims = tuple(meta.dimension_names or ())
        if len(dims) != len(meta.shape):
            raise KeyError(
                f"{where}: the array is missing the `dimension_names` metadata, which is "
                "required for xarray to determine variable dimensions."
            )
        return dims, dict(attrs)
    if DIMENSION_KEY in attrs:
        names = attrs[DIMENSION_KEY]
    else:
        try:
            names = [os.path.basename(d) for d in doc["_NCZARR_ARRAY"]["dimrefs"]]
        except (KeyError, TypeError):
            raise KeyError(
                f"{where}: the array is missing the attribute `{DIMENSION_KEY}` and the "
                "NCZarr metadata, which are required for xarray to determine variable "
                "dimensions."
            ) from None
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or len(names) != len(meta.shape):
        raise KeyError(f"{where}: {DIMENSION_KEY} {names!r} does not match the array's "
                       f"{len(meta.shape)} dimensions")
    hidden = {k for k in attrs if k == DIMENSION_KEY or k.lower().startswith("_nc")}
    return tuple(names), {k: v for k, v in attrs.items() if k not in hidden}


def zarr_fill_value(meta: ArrayMeta, doc: dict[str, Any]) -> Any:
    """The array's fill value as zarr-python reports it: None for a v2
    `null`, else a numpy scalar (or str / bytes)."""
    if meta.zarr_format == 2 and doc.get("fill_value") is None:
        return None
    value = meta.fill_value[()]
    if meta.dtype.kind == "T":
        return str(value)
    return value


def codec_encoding(meta: ArrayMeta, doc: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    """`compressors`, `filters` and `shards` (and `serializer` in v3) as
    zarr-python's objects; {} without zarr-python or when zarr cannot parse
    the document (fastchunk read it: the data is still read)."""
    try:
        if meta.zarr_format == 2:
            from zarr.core.metadata.v2 import ArrayV2Metadata

            v2 = ArrayV2Metadata.from_dict({**doc, "attributes": attrs})
            return {
                "compressors": (v2.compressor,) if v2.compressor is not None else (),
                "filters": tuple(v2.filters or ()),
                "shards": None,
            }
        from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec
        from zarr.core.metadata.v3 import ArrayV3Metadata

        v3 = ArrayV3Metadata.from_dict(dict(doc))
        inner = v3.inner_codecs
        return {
            "compressors": tuple(c for c in inner if isinstance(c, BytesBytesCodec)),
            "filters": tuple(c for c in inner if isinstance(c, ArrayArrayCodec)),
            "shards": v3.shards,
            "serializer": next((c for c in inner if isinstance(c, ArrayBytesCodec)), None),
        }
    except Exception:  # noqa: BLE001 - no zarr, or a document zarr cannot parse
        return {"shards": meta.shard.shard_shape if meta.shard else None}


def decode_fill_attribute(value: Any, meta: ArrayMeta) -> Any:
    """A `_FillValue` attribute as xarray's zarr backend decodes it (zarr v3
    stores, and v2 ones when the zarr fill value is not the mask)."""
    from xarray.backends.zarr import FillValueCoder

    dtype = meta.stored_dtype if meta.vlen is None else meta.dtype
    try:
        return FillValueCoder.decode(value, dtype)
    except (TypeError, ValueError):  # left as stored, where zarr's backend would raise
        return value
