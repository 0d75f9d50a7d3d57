# cython: language_level=3, boundscheck=False, wraparound=False, freethreading_compatible=True
# distutils: language = c++
"""The Cython boundary: Python buffers in, pointers out, the GIL released,
C++ errors mapped to Python exceptions."""

from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.unordered_set cimport unordered_set
from libcpp.utility cimport pair
from libcpp.vector cimport vector

import json

import numpy as np

from fastchunk.errors import (
    ChunkDecodeError,
    FastchunkError,
    MetadataError,
    UnsupportedError,
)


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
    ErrorInfo api_chain_encoded_size(const ChainSpec& chain, size_t decoded, int64_t* size)
    ErrorInfo api_outer_decoded_size(const ChainSpec& chain, const uint8_t* data, size_t size,
                                     int64_t* decoded)
    ErrorInfo api_codec_configuration(const CodecStep& step, const string& dtype,
                                      int zarr_format, CodecConfig* out)

cdef extern from "engine/array_spec.h" namespace "fastchunk":
    cdef cppclass KeySpec:
        string prefix
        char separator
        string zero_dim_key
        cbool nested_fallback

    cdef cppclass ShardSpec:
        vector[int64_t] chunks_per_shard
        ChainSpec index_chain
        cbool index_at_start

    cdef cppclass ArraySpec:
        string store_name
        string store_id
        string decoding
        string array_path
        vector[int64_t] shape
        vector[int64_t] chunk_shape
        int64_t itemsize
        vector[uint8_t] fill
        ChainSpec chain
        vector[int] stored_axes
        cbool sharded
        ShardSpec shard
        KeySpec keys

cdef extern from "engine/reader.h" namespace "fastchunk":
    cdef cppclass Selection:
        vector[const int64_t*] indices
        vector[int64_t] counts

cdef extern from "io/memory_source.h" namespace "fastchunk":
    cdef cppclass MemorySource:
        void add(const string& key, const uint8_t* data, size_t size)
        void add_missing(const string& key)
        void set_version(const string& key, const string& version)

cdef extern from "engine/thread_pool.h" namespace "fastchunk":
    void c_set_num_threads "fastchunk::set_num_threads"(int n) nogil
    int c_num_threads "fastchunk::num_threads"() nogil
    int c_default_num_threads "fastchunk::default_num_threads"() nogil

cdef extern from "api/guarded.h" namespace "fastchunk":
    cdef cppclass ErrorInfo:
        int kind
        string message

cdef extern from "api/api.h" namespace "fastchunk":
    ErrorInfo api_verify_spec(const ArraySpec& spec) nogil
    ErrorInfo api_read_local(const ArraySpec& spec, const string& root, const Selection& sel,
                             uint8_t* out) nogil
    ErrorInfo api_read_memory(const ArraySpec& spec, MemorySource& source, const Selection& sel,
                              uint8_t* out, const unordered_set[string]* skip) nogil
    ErrorInfo api_needed_keys(const ArraySpec& spec, const Selection& sel, cbool skip_cached,
                              vector[string]* keys) nogil
    ErrorInfo api_needed_chunks(const ArraySpec& spec, const Selection& sel,
                                vector[pair[string, int64_t]]* chunks) nogil
    ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* inp, size_t in_size,
                               uint8_t* out, size_t out_size) nogil
    ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc) nogil
    void cache_set_capacity(size_t nbytes) nogil
    void cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                    uint64_t* evictions) nogil
    void cache_clear() nogil


class NotFetched(FastchunkError):
    """Internal: a remote object was not handed to the core; fetch again."""


cdef raise_error(const ErrorInfo& info):
    message = info.message.decode("utf-8", "replace")
    if info.kind == 1:
        raise ChunkDecodeError(message)
    if info.kind == 2:
        raise MetadataError(message)
    if info.kind == 3:
        raise UnsupportedError(message)
    if info.kind == 4:
        raise OSError(message)
    if info.kind == 5:
        raise MemoryError(message)
    if info.kind == 7:
        raise NotFetched(message)
    raise FastchunkError(message)


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
    cdef ErrorInfo info = api_build_chain(steps, codecs.dtype.encode(), codecs.zarr_format, chain)
    if info.kind:
        raise_error(info)
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
    cdef int64_t size = 0
    cdef ErrorInfo info = api_chain_encoded_size(chain, decoded, &size)
    if info.kind:
        raise_error(info)
    return None if size < 0 else size


def outer_decoded_size(data, codecs):
    """The size the outermost codec of a chain says `data` decodes to (fixed
    by the format or announced by the stream's header); None when it does not."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    cdef int64_t size = 0
    cdef ErrorInfo info = api_outer_decoded_size(chain, &src[0] if src.shape[0] else NULL,
                                                 src.shape[0], &size)
    if info.kind:
        raise_error(info)
    return None if size < 0 else size


def codec_configuration(str name, dict config, str dtype, int zarr_format):
    """The configuration codec `name` writes into zarr_format metadata for
    items of `dtype`, defaults filled in; UnsupportedError when it cannot
    encode with `config`."""
    cdef CodecStep step
    step.name = name.encode()
    step.config = to_config(config)
    cdef CodecConfig out
    cdef ErrorInfo info = api_codec_configuration(step, dtype.encode(), zarr_format, &out)
    if info.kind:
        raise_error(info)
    cdef vector[pair[string, string]] items = out.items()
    return {item.first.decode(): json.loads(item.second.decode()) for item in items}


def set_num_threads(int n):
    c_set_num_threads(n)


def get_num_threads():
    return c_num_threads()


def default_num_threads():
    return c_default_num_threads()


def set_cache_size(size_t nbytes):
    cache_set_capacity(nbytes)


def get_cache_info():
    cdef size_t capacity = 0, used = 0
    cdef uint64_t hits = 0, misses = 0, evictions = 0
    cache_info(&capacity, &used, &hits, &misses, &evictions)
    return {"capacity": capacity, "used": used, "hits": hits, "misses": misses,
            "evictions": evictions}


def clear_cache():
    cache_clear()


def crc32c(data):
    cdef const uint8_t[::1] buf = memoryview(data).cast("B")
    cdef uint32_t crc = 0
    cdef ErrorInfo info
    with nogil:
        info = api_crc32c(&buf[0] if buf.shape[0] else NULL, buf.shape[0], &crc)
    if info.kind:
        raise_error(info)
    return crc


def decode_chunk(data, codecs, Py_ssize_t out_size):
    """Decodes bytes through a chain of native codecs into a new bytearray."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    out = bytearray(out_size)
    cdef uint8_t[::1] dst = out
    cdef ErrorInfo info
    cdef const uint8_t* src_ptr = &src[0] if src.shape[0] else NULL
    cdef uint8_t* dst_ptr = &dst[0] if out_size else NULL
    with nogil:
        info = api_decode_chunk(chain, src_ptr, src.shape[0], dst_ptr, out_size)
    if info.kind:
        raise_error(info)
    return out


def encode_chunk(data, codecs):
    """Encodes the bytes of one chunk (native order, C layout) through a chain."""
    cdef ChainSpec chain
    fill_chain(&chain, codecs)
    cdef const uint8_t[::1] view = memoryview(data).cast("B")
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef size_t n = view.shape[0]
    cdef string out
    cdef ErrorInfo info
    with nogil:
        info = api_encode_chunk(chain, ptr, n, &out)
    if info.kind:
        raise_error(info)
    return <bytes>out


cdef class NativeArray:
    """An ArraySpec built once per array; reads selections into buffers."""

    cdef ArraySpec spec
    cdef string root
    cdef public object store_name
    cdef object version_of

    def __init__(self, *, store_name, root, array_path, shape, chunk_shape, itemsize, fill,
                 codecs, stored_axes, key_prefix, separator, zero_dim_key,
                 nested_fallback, shard=None, store_id="", version_of=None):
        self.store_name = store_name
        self.spec.store_name = store_name.encode()
        # The node-wide cache keys on the store identity and, for objects
        # handed over from Python, on the version version_of(key) names.
        self.spec.store_id = store_id.encode()
        if codecs:
            self.spec.decoding = json.dumps(
                [codecs.zarr_format, codecs.dtype, [list(s) for s in codecs.steps]],
                sort_keys=True, default=str).encode()
        self.version_of = version_of
        self.root = root.encode() if root is not None else b""
        self.spec.array_path = array_path.encode()
        self.spec.shape = list(shape)
        self.spec.chunk_shape = list(chunk_shape)
        self.spec.itemsize = itemsize
        self.spec.fill = list(bytes(fill))
        fill_chain(&self.spec.chain, codecs)
        self.spec.stored_axes = list(stored_axes) if stored_axes is not None else []
        self.spec.keys.prefix = key_prefix.encode()
        self.spec.keys.separator = ord(separator)
        self.spec.keys.zero_dim_key = zero_dim_key.encode()
        self.spec.keys.nested_fallback = nested_fallback
        if shard is not None:
            self.spec.sharded = True
            self.spec.shard.chunks_per_shard = list(shard["chunks_per_shard"])
            self.spec.shard.index_at_start = shard["index_at_start"]
            fill_chain(&self.spec.shard.index_chain, shard["index_codecs"])
        cdef ErrorInfo info = api_verify_spec(self.spec)
        if info.kind:
            raise_error(info)

    cdef void _selection(self, list indices, Selection* sel, list keep):
        cdef const int64_t[::1] view
        cdef Py_ssize_t n
        for idx in indices:
            arr = np.ascontiguousarray(idx, dtype=np.int64)
            keep.append(arr)
            view = arr
            n = view.shape[0]
            sel.indices.push_back(&view[0] if n else NULL)
            sel.counts.push_back(n)

    def read_into(self, list indices, out, dict objects=None, skip=None):
        """Reads the orthogonal selection `indices` (one int64 array per axis)
        into `out`, a C-contiguous writable buffer of the selection's size.
        `objects` maps keys to bytes fetched beforehand (remote stores);
        chunks stored under a key in `skip` are left for a later call."""
        cdef Selection sel
        cdef list keep = []
        self._selection(indices, &sel, keep)
        cdef uint8_t[::1] dst = memoryview(out).cast("B")
        if dst.shape[0] == 0:
            return
        cdef uint8_t* dst_ptr = &dst[0]
        cdef ErrorInfo info
        cdef MemorySource source
        cdef const uint8_t[::1] obj
        cdef unordered_set[string] skip_set
        cdef const unordered_set[string]* skip_ptr = NULL
        if skip is not None:
            for key in skip:
                skip_set.insert(key.encode())
            skip_ptr = &skip_set
        if objects is None:
            with nogil:
                info = api_read_local(self.spec, self.root, sel, dst_ptr)
        else:
            for key, value in objects.items():
                if value is None:
                    source.add_missing(key.encode())
                    continue
                keep.append(value)
                obj = memoryview(value).cast("B")
                source.add(key.encode(), &obj[0] if obj.shape[0] else <const uint8_t*>"",
                           obj.shape[0])
                if self.version_of is not None:
                    version = self.version_of(key)
                    if version:
                        source.set_version(key.encode(), version.encode())
            with nogil:
                info = api_read_memory(self.spec, source, sel, dst_ptr, skip_ptr)
        if info.kind:
            raise_error(info)

    def needed_keys(self, list indices, cbool skip_cached=False):
        """Keys of the stored objects (chunks or shards) a selection needs;
        with skip_cached, not those whose chunks are all in the chunk cache."""
        cdef Selection sel
        cdef list keep = []
        cdef vector[string] keys
        self._selection(indices, &sel, keep)
        cdef ErrorInfo info
        with nogil:
            info = api_needed_keys(self.spec, sel, skip_cached, &keys)
        if info.kind:
            raise_error(info)
        return [k.decode() for k in keys]

    def needed_chunks(self, list indices):
        """{stored object key: sorted int64 array of the inner chunk numbers
        (C order within the shard; [0] when not sharded) a selection touches}."""
        cdef Selection sel
        cdef list keep = []
        cdef vector[pair[string, int64_t]] chunks
        self._selection(indices, &sel, keep)
        cdef ErrorInfo info
        with nogil:
            info = api_needed_chunks(self.spec, sel, &chunks)
        if info.kind:
            raise_error(info)
        grouped = {}
        for item in chunks:
            grouped.setdefault(item.first.decode(), []).append(item.second)
        return {k: np.sort(np.asarray(v, dtype=np.int64)) for k, v in grouped.items()}

include "_transform.pxi"
include "_encode.pxi"
include "_pipeline.pxi"
include "_strings.pxi"
include "_cache.pxi"
