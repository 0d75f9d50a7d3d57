"""Exceptions raised by fastchunk.

Every exception fastchunk raises on its own is a FastchunkError, and also the
builtin a caller would catch for that kind of failure: a failed read of the
operating system is an OSError (with its errno), memory refused a
MemoryError, a selection outside the array an IndexError, bad metadata a
ValueError, an unsupported codec a NotImplementedError."""

from __future__ import annotations


class FastchunkError(Exception):
    """Base class of every error fastchunk raises on its own."""


class MetadataError(FastchunkError, ValueError):
    """Missing, malformed or inconsistent zarr metadata."""


class ChunkDecodeError(FastchunkError):
    """A chunk is corrupt, truncated or fails its checksum; the message names the key."""


class UnsupportedError(FastchunkError, NotImplementedError):
    """A codec, data type or layout fastchunk does not support; the message names it."""


class FastchunkOSError(FastchunkError, OSError):
    """An operating-system call failed (open, read, map, a cache directory);
    `errno` says why."""


class NotFetchedError(FastchunkOSError):
    """Bytes a remote read needed never arrived from the store."""


class FastchunkMemoryError(FastchunkError, MemoryError):
    """Memory was refused (a chunk larger than the machine can hold, a cache
    entry that cannot be mapped)."""


class FastchunkIndexError(FastchunkError, IndexError):
    """A selection outside the array."""


class InternalError(FastchunkError, RuntimeError):
    """fastchunk's core met a state it should never be in: a bug; please report it."""


class RemoteStoreError(FastchunkError, OSError):
    """A request to an object store (S3, GCS, HTTP) failed; the message names
    the object and the reason, never a secret. Raised as such when the request
    failed after its retries (server down, connection refused, timeouts,
    5xx); the refusals and the missing bucket are its subclasses."""


class RemoteAccessError(RemoteStoreError, PermissionError):
    """The store refused the request (401, 403): credentials missing, wrong,
    expired, or without access to the object. The message says which when it
    is known (no credentials found anywhere) and what to check."""


class MissingBucketError(RemoteStoreError, FileNotFoundError):
    """The bucket does not exist (at this endpoint)."""
