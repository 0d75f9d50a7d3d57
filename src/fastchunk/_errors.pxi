# C++ error kinds (csrc/common/error.h) to Python exceptions: the one place
# they are mapped, by name, and the one check of a core call's ErrorInfo.
# Included by _core.pyx.

from fastchunk.errors import (
    ChunkDecodeError,
    FastchunkIndexError,
    FastchunkMemoryError,
    FastchunkOSError,
    InternalError,
    MetadataError,
    NotFetchedError,
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

# Every one a FastchunkError and the builtin that fits (fastchunk/errors.py).
EXCEPTION_OF_KIND = {
    <int>ErrorKind.kDecode: ChunkDecodeError,
    <int>ErrorKind.kMetadata: MetadataError,
    <int>ErrorKind.kUnsupported: UnsupportedError,
    <int>ErrorKind.kIO: FastchunkOSError,
    <int>ErrorKind.kMemory: FastchunkMemoryError,
    <int>ErrorKind.kInternal: InternalError,
    <int>ErrorKind.kNotFetched: NotFetchedError,
    <int>ErrorKind.kIndex: FastchunkIndexError,
}


cdef object core_exception(const ErrorInfo& info):
    """The Python exception of a failed core call."""
    message = info.message.decode("utf-8", "replace")
    cls = EXCEPTION_OF_KIND.get(<int>info.kind, InternalError)
    if issubclass(cls, OSError):
        # OSError(errno, text): .errno and .strerror set, str() "[Errno n] text".
        return cls(info.sys_errno, message) if info.sys_errno else cls(message)
    return cls(message)


cdef int check(const ErrorInfo& info) except -1 nogil:
    """Raises the Python exception of a failed core call; takes the GIL only
    then. Call the core with the GIL released and check its answer:

        with nogil:
            check(api_read_local(...))
    """
    if info.kind == ErrorKind.kOk:
        return 0
    with gil:
        raise core_exception(info)
