# cython: language_level=3, boundscheck=False, wraparound=False, freethreading_compatible=True
# distutils: language = c++
"""The Cython boundary: Python buffers in, checked for size, type, layout and
writability before they become pointers; the GIL released; C++ errors mapped
to Python exceptions in one place (_errors.pxi). The C++ API it calls is
declared in includes/*.pxd."""

from cython.operator cimport dereference as deref
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.memory cimport unique_ptr
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.caches cimport *
from fastchunk.includes.codecs cimport *
from fastchunk.includes.common cimport *
from fastchunk.includes.engine cimport *
from fastchunk.includes.scan cimport *
from fastchunk.includes.transform cimport *

import numpy as np

include "_errors.pxi"
include "_buffers.pxi"


# Codec ids understood by the core (csrc/codecs/byte_codecs.h).
CODEC_IDS = {"blosc": 1, "zstd": 2, "gzip": 3, "zlib": 4, "lz4": 5, "crc32c": 6}


cdef void fill_chain(ChainSpec* chain, object codecs, int swap_unit):
    for name in codecs:
        chain_push_codec(chain, CODEC_IDS[name])
    chain.swap_unit = swap_unit


def crc32c(data):
    cdef const uint8_t[::1] buf = memoryview(data).cast("B")
    cdef uint32_t crc = 0
    cdef ErrorInfo info
    with nogil:
        info = api_crc32c(&buf[0] if buf.shape[0] else NULL, buf.shape[0], &crc)
    check(info)
    return crc


def decode_chunk(data, codecs, int swap_unit, Py_ssize_t out_size):
    """Decodes bytes through native codecs (encode order) into a new bytearray."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs, swap_unit)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    out = bytearray(out_size)
    cdef uint8_t[::1] dst = out
    cdef ErrorInfo info
    cdef const uint8_t* src_ptr = &src[0] if src.shape[0] else NULL
    cdef uint8_t* dst_ptr = &dst[0] if out_size else NULL
    with nogil:
        info = api_decode_chunk(chain, src_ptr, src.shape[0], dst_ptr, out_size)
    check(info)
    return out


def set_num_threads(int n):
    set_num_threads_c(n)


def get_num_threads():
    return num_threads()


include "_caches.pxi"
include "_read.pxi"
include "_keys.pxi"
include "_transform.pxi"
include "_scan.pxi"
include "_encode.pxi"
