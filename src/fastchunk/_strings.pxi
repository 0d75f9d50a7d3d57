# Binding for the variable-length string/bytes framing parser
# (csrc/strings/vlen_frame.h); included by _core.pyx.


def parse_vlen(data, int64_t items):
    """(starts, lengths): int64 arrays locating each of the `items` items of a
    vlen-utf8 / vlen-bytes encoded buffer; ChunkDecodeError on bad framing."""
    if items < 0:
        raise ValueError("negative item count")
    cdef const uint8_t[::1] src = memoryview(data).cast("B")
    # Each item takes at least 4 bytes: a count beyond that is rejected before
    # anything is allocated for it.
    if items > (src.shape[0] // 4):
        raise ChunkDecodeError(f"variable-length chunk of {src.shape[0]} bytes cannot hold "
                               f"{items} items")
    starts = np.empty(items, dtype=np.int64)
    lengths = np.empty(items, dtype=np.int64)
    cdef int64_t[::1] s = starts
    cdef int64_t[::1] n = lengths
    cdef const uint8_t* p = &src[0] if src.shape[0] else NULL
    with nogil:
        check(api_parse_vlen(p, src.shape[0], items, &s[0] if items else NULL,
                             &n[0] if items else NULL))
    return starts, lengths
