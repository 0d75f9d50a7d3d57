"""The zarr format: metadata (v2 and v3), data types and fill values, chunk
keys, node discovery and consolidated metadata, and the numcodecs fallback
for codecs the C++ core does not implement."""
