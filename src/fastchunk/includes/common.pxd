# csrc/common and csrc/api/guarded.h: errors and byte views.
from libc.stdint cimport uint8_t
from libcpp.string cimport string


cdef extern from "common/error.h" namespace "fastchunk":
    cdef enum class ErrorKind "fastchunk::ErrorKind":
        kOk "fastchunk::ErrorKind::kOk"
        kDecode "fastchunk::ErrorKind::kDecode"
        kMetadata "fastchunk::ErrorKind::kMetadata"
        kUnsupported "fastchunk::ErrorKind::kUnsupported"
        kIO "fastchunk::ErrorKind::kIO"
        kMemory "fastchunk::ErrorKind::kMemory"
        kInternal "fastchunk::ErrorKind::kInternal"
        kNotFetched "fastchunk::ErrorKind::kNotFetched"
        kIndex "fastchunk::ErrorKind::kIndex"

cdef extern from "api/guarded.h" namespace "fastchunk":
    cdef cppclass ErrorInfo:
        ErrorKind kind
        string message

cdef extern from "common/buffer.h" namespace "fastchunk":
    cdef cppclass ByteView:
        const uint8_t* data
        size_t size
