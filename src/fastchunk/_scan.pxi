# Bindings for the scan reduction used by `fastchunk info --scan`; included by
# _core.pyx.


def scan_stats(block, Py_ssize_t outer, Py_ssize_t nvar, Py_ssize_t inner):
    """NaN count, count, min, max, sum and sum of squares per index of the middle axis of
    `block` seen as (outer, nvar, inner); a dict of numpy arrays."""
    if outer < 0 or nvar < 1 or inner < 0:
        raise ValueError(f"scan_stats: bad layout ({outer}, {nvar}, {inner})")
    arr = np.require(block, requirements="C")
    if arr.size != int(outer) * int(nvar) * int(inner):  # Python ints: no overflow
        raise ValueError("scan_stats: block size does not match outer * nvar * inner")
    kind = arr.dtype.kind
    if kind not in "fiub":
        raise UnsupportedError(f"scan: dtype {arr.dtype} is not supported")
    cdef char ckind = ord(kind)
    cdef int itemsize = arr.dtype.itemsize
    cdef const uint8_t[::1] view = arr.reshape(-1).view(np.uint8)
    cdef const uint8_t* ptr = &view[0] if view.shape[0] else NULL
    cdef ScanStats stats
    with nogil:
        check(api_scan_stats(ptr, ckind, itemsize, outer, nvar, inner, &stats))
    return {
        "nan_count": np.asarray(stats.nan_count, dtype=np.int64),
        "count": np.asarray(stats.count, dtype=np.int64),
        "min": np.asarray(stats.min, dtype=np.float64),
        "max": np.asarray(stats.max, dtype=np.float64),
        "sum": np.asarray(stats.sum, dtype=np.float64),
        "sum_squares": np.asarray(stats.sum_squares, dtype=np.float64),
    }
