# C++ error kinds (csrc/common/error.h) to Python exceptions: the one place
# they are mapped, by name. Included by _core.pyx.

from fastchunk.errors import (
    ChunkDecodeError,
    FastchunkError,
    MetadataError,
    UnsupportedError,
)

# Keyed by the kinds' values; ERROR_KINDS names them (for tests and messages).
ERROR_KINDS = {
    "kOk": <int>ErrorKind.kOk,
    "kDecode": <int>ErrorKind.kDecode,
    "kMetadata": <int>ErrorKind.kMetadata,
    "kUnsupported": <int>ErrorKind.kUnsupported,
    "kIO": <int>ErrorKind.kIO,
    "kMemory": <int>ErrorKind.kMemory,
    "kInternal": <int>ErrorKind.kInternal,
    "kNotFetched": <int>ErrorKind.kNotFetched,
    "kIndex": <int>ErrorKind.kIndex,
}

EXCEPTION_OF_KIND = {
    <int>ErrorKind.kDecode: ChunkDecodeError,
    <int>ErrorKind.kMetadata: MetadataError,
    <int>ErrorKind.kUnsupported: UnsupportedError,
    <int>ErrorKind.kIO: OSError,
    <int>ErrorKind.kMemory: MemoryError,
    <int>ErrorKind.kInternal: FastchunkError,
    <int>ErrorKind.kNotFetched: FastchunkError,
    <int>ErrorKind.kIndex: IndexError,
}


cdef int check(const ErrorInfo& info) except -1:
    """Raises the Python exception of a failed core call."""
    if info.kind == ErrorKind.kOk:
        return 0
    message = info.message.decode("utf-8", "replace")
    raise EXCEPTION_OF_KIND.get(<int>info.kind, FastchunkError)(message)
