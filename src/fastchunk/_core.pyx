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
from libcpp.utility cimport pair
from libcpp.vector cimport vector

from fastchunk.includes.caches cimport *
from fastchunk.includes.codecs cimport *
from fastchunk.includes.common cimport *
from fastchunk.includes.encode cimport *
from fastchunk.includes.engine cimport *
from fastchunk.includes.pipeline cimport *
from fastchunk.includes.scan cimport *
from fastchunk.includes.strings cimport *
from fastchunk.includes.transform cimport *

import json

import numpy as np

from fastchunk.store.protocol import SUFFIX, WHOLE, Answer, Request

include "_errors.pxi"
include "_buffers.pxi"


# ---------------------------------------------------------------- codecs

cdef CodecConfig to_config(object config) except *:
    cdef vector[pair[string, string]] items
    for key, value in (config or {}).items():
        items.push_back(pair[string, string](str(key).encode(), json.dumps(value).encode()))
    return CodecConfig(items)


cdef int fill_chain(ChainSpec* chain, object codecs) except -1:
    """`codecs`: a chain of registered codecs (fastchunk.zarr.codecs.CodecChain:
    zarr_format, dtype, steps of (name, configuration) in encode order), or
    an empty list for chunks that reach the core decoded."""
    if not codecs:
        return 0
    cdef vector[CodecStep] steps
    cdef CodecStep step
    for name, config in codecs.steps:
        step.name = name.encode()
        step.config = to_config(config)
        steps.push_back(step)
    check(api_build_chain(steps, codecs.dtype.encode(), codecs.zarr_format, chain))
    return 0


def codecs():
    """The codecs the core implements (its registry): one dict per codec with
    name, kind (array_to_array, array_to_bytes, bytes_to_bytes), numcodecs
    (the name is a numcodecs id: a zarr v2 id and "numcodecs.<name>" in v3),
    zarr_v3 (a codec name of the zarr v3 specification), fixed_size (the
    encoded size follows from the decoded one: a filter, checksum or byte
    order, not a compressor) and positional_keys (the configuration keys
    `--codec NAME:V1:V2` sets)."""
    return [
        {
            "name": row.name.decode(),
            "kind": row.kind.decode(),
            "numcodecs": row.numcodecs_id,
            "zarr_v3": row.zarr_v3_name,
            "fixed_size": row.fixed_size,
            "positional_keys": [k.decode() for k in row.positional_keys],
        }
        for row in api_codec_listing()
    ]


def check_chain(codecs):
    """Builds a chain in the core: raises UnsupportedError when a codec or its
    configuration is not implemented, MetadataError when it is invalid."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)


def chain_encoded_size(codecs, size_t decoded):
    """The stored size of `decoded` bytes through a chain whose codecs all fix
    it (byte order, filters, checksums); None otherwise."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef cbool known = False
    cdef uint64_t size = 0
    check(api_chain_encoded_size(chain, decoded, &known, &size))
    return size if known else None


def outer_decoded_size(data, codecs):
    """The size the outermost codec of a chain says `data` decodes to (fixed
    by the format or announced by the stream's header); None when it does not."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    cdef cbool known = False
    cdef uint64_t size = 0
    check(api_outer_decoded_size(chain, &src[0] if src.shape[0] else NULL, src.shape[0], &known,
                                 &size))
    return size if known else None


def codec_configuration(str name, dict config, str dtype, int zarr_format):
    """The configuration codec `name` writes into zarr_format metadata for
    items of `dtype`, defaults filled in; UnsupportedError when it cannot
    encode with `config`."""
    cdef CodecStep step
    step.name = name.encode()
    step.config = to_config(config)
    cdef CodecConfig out
    check(api_codec_configuration(step, dtype.encode(), zarr_format, &out))
    cdef vector[pair[string, string]] items = out.items()
    return {item.first.decode(): json.loads(item.second.decode()) for item in items}


def crc32c(data):
    cdef const uint8_t[::1] buf = memoryview(data).cast("B")
    cdef uint32_t crc = 0
    with nogil:
        check(api_crc32c(&buf[0] if buf.shape[0] else NULL, buf.shape[0], &crc))
    return crc


def decode_chunk(data, codecs, Py_ssize_t out_size):
    """Decodes bytes through a chain of native codecs into a new bytearray."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    out = bytearray(out_size)
    cdef uint8_t[::1] dst = out
    cdef const uint8_t* src_ptr = &src[0] if src.shape[0] else NULL
    cdef uint8_t* dst_ptr = &dst[0] if out_size else NULL
    with nogil:
        check(api_decode_chunk(chain, src_ptr, src.shape[0], dst_ptr, out_size))
    return out


def encode_chunk(data, codecs):
    """Encodes the bytes of one chunk (native order, C layout) through a chain."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef size_t n = view.shape[0]
    cdef string out
    with nogil:
        check(api_encode_chunk(chain, ptr, n, &out))
    return <bytes>out


# ---------------------------------------------------------------- threads

def set_num_threads(int n):
    set_num_threads_c(n)


def get_num_threads():
    return num_threads()


def set_thread_num_threads(int n):
    """Native threads for the reads and transforms the calling Python thread
    starts (n < 1: the process-wide count again). Other threads keep theirs."""
    set_thread_num_threads_c(n)


include "_process_caches.pxi"
include "_memory.pxi"
include "_read.pxi"
include "_keys.pxi"
include "_transform.pxi"
include "_scan.pxi"
include "_encode.pxi"
include "_pipeline.pxi"
include "_strings.pxi"
include "_shared_caches.pxi"
include "_icechunk.pxi"
