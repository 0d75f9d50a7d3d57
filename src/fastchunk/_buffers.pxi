# Checks that turn Python buffers and index arrays into what the core may
# use: exact sizes, C-contiguous, writable where written, integer indices.
# Included by _core.pyx.


cdef object writable_bytes(object out, object nbytes, str what):
    """`out` as a 1-D memoryview of bytes: a writable, C-contiguous buffer of
    exactly `nbytes` bytes, else ValueError/TypeError. Never a copy."""
    try:
        view = memoryview(out)
    except TypeError:
        raise TypeError(f"{what} must be a writable buffer (a numpy array, a CPU tensor's "
                        f"numpy view, a bytearray), got {type(out).__name__}") from None
    except ValueError as e:  # numpy dtypes the buffer protocol cannot carry (datetime64)
        raise TypeError(f"{what}: {e}; pass a uint8 view of it") from None
    if view.readonly:
        raise ValueError(f"{what} is read-only")
    if not view.c_contiguous:
        raise ValueError(f"{what} is not C-contiguous: it would be filled through a copy")
    if view.nbytes != nbytes:
        raise ValueError(f"{what} holds {view.nbytes} bytes, the read writes {nbytes}")
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    return view


cdef int64_t fill_positions(Positions* p, object spec, list keep, str what) except -1:
    """The one conversion of positions along an axis from Python: a `range`
    (a run, no table: slices, whole axes) or a 1-D array of integers (a
    table, as C-contiguous int64, kept alive in `keep`; an empty one may have
    any dtype). Returns the count. Bounds are checked by the core."""
    cdef const int64_t[::1] view
    if type(spec) is range:
        p.table = NULL
        p.first = spec.start
        p.step = spec.step
        return len(spec)
    arr = spec if type(spec) is np.ndarray else np.asarray(spec)
    if arr.ndim != 1:
        raise IndexError(f"{what} has {arr.ndim} dimensions, not 1")
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{what} must hold integers, not {arr.dtype}")
    arr = np.ascontiguousarray(arr, dtype=np.int64)
    keep.append(arr)
    view = arr
    p.table = &view[0] if view.shape[0] else NULL
    p.first = 0
    p.step = 1
    return view.shape[0]


cdef uint64_t fill_selection(list indices, tuple shape, Selection* sel, list keep) except? 0:
    """The core's selection of `indices` (per axis a `range` or an integer
    array, see fill_positions); returns the number of elements it selects
    (the index arrays are kept alive in `keep`)."""
    if len(indices) != len(shape):
        raise IndexError(f"{len(indices)} index arrays for an array of {len(shape)} dimensions")
    cdef AxisSelection axis
    cdef uint64_t n = 1
    for d, idx in enumerate(indices):
        axis.count = fill_positions(&axis.positions, idx, keep, f"the index array of axis {d}")
        sel.axes.push_back(axis)
        n *= <uint64_t>axis.count
    return n
