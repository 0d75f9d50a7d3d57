# Bindings for the chunk encoders used by `fastchunk rechunk`; included by
# _core.pyx.


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
    with nogil:
        check(api_encode_objects(r, ptr, &objects))
    return [<bytes>o for o in objects]
