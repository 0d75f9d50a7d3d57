# Bindings for the chunk encoders used by `fastchunk rechunk`; included by _core.pyx.

cdef extern from "encode/encode_chain.h" namespace "fastchunk":
    cdef cppclass EncodeStep:
        int codec
        int level
        int shuffle
        int blocksize
        string cname

    cdef cppclass EncodeChain:
        vector[EncodeStep] steps
        int swap_unit
        int typesize

cdef extern from "encode/object_encoder.h" namespace "fastchunk":
    cdef cppclass EncodeRequest:
        vector[int64_t] array_shape
        vector[int64_t] slab_origin
        vector[int64_t] slab_shape
        vector[int64_t] chunk_shape
        int64_t itemsize
        vector[uint8_t] fill
        EncodeChain chain
        cbool sharded
        vector[int64_t] chunks_per_shard
        EncodeChain index_chain
        vector[int64_t] object_coords

cdef extern from "encode/encode_api.h" namespace "fastchunk":
    ErrorInfo api_encode_objects(const EncodeRequest& req, const uint8_t* slab,
                                 vector[string]* objects) nogil
    ErrorInfo api_encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size,
                               string* out) nogil

cdef void fill_encode_chain(EncodeChain* chain, list steps, int swap_unit, int typesize):
    """`steps`: dicts with codec (a CODEC_IDS name) and its level/shuffle/blocksize/cname."""
    cdef EncodeStep step
    for s in steps:
        step.codec = CODEC_IDS[s["codec"]]
        step.level = int(s.get("level", 0))
        step.shuffle = int(s.get("shuffle", 0))
        step.blocksize = int(s.get("blocksize", 0))
        step.cname = str(s.get("cname", "")).encode()
        chain.steps.push_back(step)
    chain.swap_unit = swap_unit
    chain.typesize = typesize


def encode_chunk(data, list steps, int swap_unit=0, int typesize=1):
    """Encodes the bytes of one chunk (native order, C layout) through `steps`."""
    cdef EncodeChain chain
    fill_encode_chain(&chain, steps, swap_unit, typesize)
    buf = bytearray(data)
    cdef uint8_t[::1] view = buf
    cdef uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef size_t n = view.shape[0]
    cdef string out
    cdef ErrorInfo info
    with nogil:
        info = api_encode_chunk(chain, ptr, n, &out)
    check(info)
    return <bytes>out


def encode_objects(dict req, slab):
    """Encodes the chunks or shards at req["object_coords"] (grid coordinates,
    one tuple each) out of `slab`, a C-contiguous array covering
    req["slab_origin"]; returns one bytes object per coordinate."""
    cdef EncodeRequest r
    arr = np.require(slab, requirements="C")
    r.array_shape = list(req["array_shape"])
    r.slab_origin = list(req["slab_origin"])
    r.slab_shape = list(arr.shape)
    r.chunk_shape = list(req["chunk_shape"])
    r.itemsize = arr.dtype.itemsize
    r.fill = list(bytes(req["fill"]))
    fill_encode_chain(&r.chain, req["steps"], req.get("swap_unit", 0), arr.dtype.itemsize)
    if req.get("chunks_per_shard") is not None:
        r.sharded = True
        r.chunks_per_shard = list(req["chunks_per_shard"])
        fill_encode_chain(&r.index_chain, [{"codec": "crc32c"}], 0, 8)
    for coords in req["object_coords"]:
        for c in coords:
            r.object_coords.push_back(c)
    cdef const uint8_t[::1] view = arr.reshape(-1).view(np.uint8)
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef vector[string] objects
    cdef ErrorInfo info
    with nogil:
        info = api_encode_objects(r, ptr, &objects)
    check(info)
    return [<bytes>o for o in objects]
