# csrc/scan: the statistics behind `fastchunk info --scan`.
from libc.stdint cimport int64_t, uint8_t
from libcpp.vector cimport vector

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "scan/scan_stats.h" namespace "fastchunk":
    cdef cppclass ScanStats:
        vector[int64_t] nan_count
        vector[int64_t] count
        vector[double] min
        vector[double] max
        vector[double] sum
        vector[double] sum_squares

cdef extern from "scan/scan_api.h" namespace "fastchunk":
    ErrorInfo api_scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer,
                             int64_t nvar, int64_t inner, ScanStats* out) nogil
