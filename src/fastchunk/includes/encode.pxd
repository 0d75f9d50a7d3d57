# csrc/encode: cutting chunks and shards out of a slab and encoding them
# (`fastchunk rechunk`).
from libc.stdint cimport int64_t, uint8_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.codecs cimport ChainSpec
from fastchunk.includes.common cimport ErrorInfo


cdef extern from "encode/object_encoder.h" namespace "fastchunk":
    cdef cppclass EncodeRequest:
        vector[int64_t] array_shape
        vector[int64_t] slab_origin
        vector[int64_t] slab_shape
        vector[int64_t] chunk_shape
        int64_t itemsize
        vector[uint8_t] fill
        ChainSpec chain
        cbool sharded
        vector[int64_t] chunks_per_shard
        ChainSpec index_chain
        vector[int64_t] object_coords

cdef extern from "encode/encode_api.h" namespace "fastchunk":
    ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                                 vector[string]* objects) nogil
