# csrc/codecs, csrc/codecs/codec_api.h and csrc/api/api.h: the codec registry,
# chains of registered codecs, and the calls that decode outside a read.
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "codecs/codec_config.h" namespace "fastchunk":
    cdef cppclass CodecConfig:
        CodecConfig()
        CodecConfig(vector[pair[string, string]] items)
        const vector[pair[string, string]]& items()

cdef extern from "codecs/chain.h" namespace "fastchunk":
    cdef cppclass ChainSpec:
        pass

    cdef cppclass CodecStep:
        string name
        CodecConfig config

cdef extern from "codecs/codec_api.h" namespace "fastchunk":
    cdef cppclass CodecListing:
        string name
        string kind
        cbool numcodecs_id
        cbool zarr_v3_name
        cbool fixed_size
        vector[string] positional_keys

    vector[CodecListing] api_codec_listing()
    ErrorInfo api_build_chain(const vector[CodecStep]& steps, const string& dtype,
                              int zarr_format, ChainSpec* chain)
    ErrorInfo api_encode_chunk(const ChainSpec& chain, const uint8_t* data, size_t size,
                               string* out) nogil
    ErrorInfo api_chain_encoded_size(const ChainSpec& chain, size_t decoded, cbool* known,
                                     uint64_t* size)
    ErrorInfo api_outer_decoded_size(const ChainSpec& chain, const uint8_t* data, size_t size,
                                     cbool* known, uint64_t* decoded)
    ErrorInfo api_codec_configuration(const CodecStep& step, const string& dtype,
                                      int zarr_format, CodecConfig* out)

cdef extern from "api/api.h" namespace "fastchunk":
    ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* inp, size_t in_size,
                               uint8_t* out, size_t out_size) nogil
    ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc) nogil
