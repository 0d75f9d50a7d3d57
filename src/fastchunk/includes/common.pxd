# csrc/common and csrc/api/guarded.h: errors and byte views.
from libc.stdint cimport uint8_t, uint64_t
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
        int sys_errno

cdef extern from "common/buffer.h" namespace "fastchunk":
    cdef cppclass ByteView:
        const uint8_t* data
        size_t size

cdef extern from "common/buffer_pool.h" namespace "fastchunk":
    size_t kMappedMin
    cdef cppclass BufferPoolStats:
        size_t budget, kept_bytes, kept_buffers
        uint64_t reused, made, released, released_bytes, made_bytes
    uint8_t* take_buffer(size_t n, size_t& capacity) nogil
    void give_buffer(uint8_t* p, size_t capacity) nogil
    BufferPoolStats buffer_pool_stats() nogil
    void set_buffer_pool_budget(size_t nbytes) nogil
    void clear_buffer_pool() nogil

cdef extern from "api/memory_api.h" namespace "fastchunk":
    uint8_t* api_take_output_buffer(size_t n, size_t* capacity, int threads) nogil
