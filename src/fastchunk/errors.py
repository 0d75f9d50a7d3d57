"""Exceptions raised by fastchunk."""


class FastchunkError(Exception):
    """Base class of every error fastchunk raises on its own."""


class MetadataError(FastchunkError, ValueError):
    """Missing, malformed or inconsistent zarr metadata."""


class ChunkDecodeError(FastchunkError):
    """A chunk is corrupt, truncated or fails its checksum; the message names the key."""


class UnsupportedError(FastchunkError, NotImplementedError):
    """A codec, data type or layout fastchunk does not support; the message names it."""
