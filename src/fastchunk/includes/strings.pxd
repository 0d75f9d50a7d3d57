# csrc/strings through csrc/api/strings_api.h: the framing of variable-length
# string and bytes chunks.
from libc.stdint cimport int64_t, uint8_t

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "api/strings_api.h" namespace "fastchunk":
    ErrorInfo api_parse_vlen(const uint8_t* data, size_t size, int64_t items, int64_t* starts,
                             int64_t* lengths) nogil
