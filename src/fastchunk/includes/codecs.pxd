# csrc/codecs and csrc/api/api.h: the codec chain and the calls that decode
# outside a read.
from libc.stdint cimport uint8_t, uint32_t

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "codecs/chain.h" namespace "fastchunk":
    cdef cppclass ChainSpec:
        int swap_unit

cdef extern from "api/api.h" namespace "fastchunk":
    void chain_push_codec(ChainSpec* chain, int codec_id)
    ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* inp, size_t in_size,
                               uint8_t* out, size_t out_size) nogil
    ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc) nogil
