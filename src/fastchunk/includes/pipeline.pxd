# csrc/engine/chunk_batch.h and csrc/api/batch_api.h: the batch decoder the
# zarr-python codec pipeline uses.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.codecs cimport ChainSpec
from fastchunk.includes.common cimport ByteView, ErrorInfo
from fastchunk.includes.engine cimport ByteRange, Positions, RangeKind


cdef extern from "engine/chunk_batch.h" namespace "fastchunk":
    cdef cppclass BatchAxis:
        Positions in_ "in"
        Positions out
        int64_t n
        int64_t dst_stride
        int64_t dst_extent

    cdef enum class BatchSource "fastchunk::BatchSource":
        kMissing "fastchunk::BatchSource::kMissing"
        kBytes "fastchunk::BatchSource::kBytes"
        kFile "fastchunk::BatchSource::kFile"

    cdef cppclass BatchChunk:
        string key
        BatchSource source
        ByteView encoded
        string path
        ByteRange range_ "range"
        string version
        uint8_t* dst
        cbool points
        vector[BatchAxis] axes
        Positions point_dst
        int64_t point_dst_stride
        int64_t point_dst_extent

    cdef cppclass BatchLayout:
        string name
        ChainSpec chain
        vector[int64_t] chunk_shape
        vector[int64_t] src_strides
        int64_t itemsize
        vector[uint8_t] fill

cdef extern from "api/batch_api.h" namespace "fastchunk":
    ErrorInfo api_decode_batch(const BatchLayout& layout, const vector[BatchChunk]& chunks) nogil
