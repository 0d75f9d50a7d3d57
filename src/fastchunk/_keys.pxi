# Chunk keys through the core's one implementation (csrc/engine/chunk_keys.cc);
# fastchunk.zarr.chunk_keys is the Python face. Included by _core.pyx.


cdef class ChunkKeyEncoding:
    """Builds and parses the keys of one array's chunks (or shards)."""

    cdef KeySpec keys
    cdef string path
    cdef readonly size_t ndim

    def __init__(self, str path, int ndim, str prefix, str separator, str zero_dim_key,
                 bint nested_fallback=False):
        if len(separator) != 1 or ndim < 0:
            raise ValueError(f"bad chunk key encoding ({separator!r}, {ndim})")
        self.path = path.encode()
        self.ndim = ndim
        self.keys.prefix = prefix.encode()
        self.keys.separator = ord(separator)
        self.keys.zero_dim_key = zero_dim_key.encode()
        self.keys.nested_fallback = nested_fallback

    def key(self, coords, separator=None):
        """The key of the object at grid coordinates `coords`."""
        cdef vector[int64_t] c = [int(x) for x in coords]
        if c.size() != self.ndim:
            raise ValueError(f"{c.size()} coordinates for {self.ndim} dimensions")
        cdef char sep = self.keys.separator if separator is None else ord(separator)
        cdef string out
        check(api_chunk_key(self.path, self.keys, c, sep, &out))
        return out.decode()

    def coords(self, str key):
        """The grid coordinates `key` names, or None when it is no chunk key."""
        cdef vector[int64_t] c
        cdef cbool parsed = False
        check(api_parse_chunk_key(self.path, self.keys, self.ndim, key.encode(), &c, &parsed))
        return tuple(c) if parsed else None
