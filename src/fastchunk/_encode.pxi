# Bindings for the chunk encoders used by `fastchunk rechunk` and the scan
# reduction used by `fastchunk info --scan`; included by _core.pyx.

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

cdef extern from "scan/scan_stats.h" namespace "fastchunk":
    cdef cppclass ScanStats:
        vector[int64_t] nan_count
        vector[int64_t] count
        vector[double] min
        vector[double] max
        vector[double] sum

cdef extern from "scan/scan_api.h" namespace "fastchunk":
    ErrorInfo api_scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer,
                             int64_t nvar, int64_t inner, ScanStats* out) nogil


def encode_objects(dict req, slab):
    """Encodes the chunks or shards at req["object_coords"] (grid coordinates,
    one tuple each) out of `slab`, a C-contiguous array covering
    req["slab_origin"], through the chain req["codecs"] (and the shard index
    through req["index_codecs"], which gets native uint64 pairs);
    returns one bytes object per coordinate."""
    cdef EncodeRequest r
    arr = np.require(slab, requirements="C")
    r.array_shape = list(req["array_shape"])
    r.slab_origin = list(req["slab_origin"])
    r.slab_shape = list(arr.shape)
    r.chunk_shape = list(req["chunk_shape"])
    r.itemsize = arr.dtype.itemsize
    r.fill = list(bytes(req["fill"]))
    fill_chain(&r.chain, req["codecs"])
    if req.get("chunks_per_shard") is not None:
        r.sharded = True
        r.chunks_per_shard = list(req["chunks_per_shard"])
        fill_chain(&r.index_chain, req["index_codecs"])
    for coords in req["object_coords"]:
        for c in coords:
            r.object_coords.push_back(c)
    cdef const uint8_t[::1] view = arr.reshape(-1).view(np.uint8)
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef vector[string] objects
    cdef ErrorInfo info
    with nogil:
        info = api_encode_objects(r, ptr, &objects)
    if info.kind:
        raise_error(info)
    return [<bytes>o for o in objects]


def scan_stats(block, Py_ssize_t outer, Py_ssize_t nvar, Py_ssize_t inner):
    """NaN count, count, min, max and sum per index of the middle axis of
    `block` seen as (outer, nvar, inner); a dict of numpy arrays."""
    arr = np.require(block, requirements="C")
    if arr.size != outer * nvar * inner:
        raise ValueError("scan_stats: block size does not match outer * nvar * inner")
    kind = arr.dtype.kind
    if kind not in "fiub":
        raise UnsupportedError(f"scan: dtype {arr.dtype} is not supported")
    cdef char ckind = ord(kind)
    cdef int itemsize = arr.dtype.itemsize
    cdef const uint8_t[::1] view = arr.reshape(-1).view(np.uint8)
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef ScanStats stats
    cdef ErrorInfo info
    with nogil:
        info = api_scan_stats(ptr, ckind, itemsize, outer, nvar, inner, &stats)
    if info.kind:
        raise_error(info)
    return {
        "nan_count": np.asarray(stats.nan_count, dtype=np.int64),
        "count": np.asarray(stats.count, dtype=np.int64),
        "min": np.asarray(stats.min, dtype=np.float64),
        "max": np.asarray(stats.max, dtype=np.float64),
        "sum": np.asarray(stats.sum, dtype=np.float64),
    }
