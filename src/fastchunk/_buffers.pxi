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


cdef list index_arrays(list indices, tuple shape):
    """Per axis, a `range` (a run of positions, planned without a table: a
    slice or a whole axis) or one C-contiguous int64 array. Integer dtypes
    only (an empty array may have any dtype); 1-D. Bounds are checked by the
    core."""
    if len(indices) != len(shape):
        raise IndexError(f"{len(indices)} index arrays for an array of {len(shape)} dimensions")
    cdef list out = []
    for d, idx in enumerate(indices):
        if type(idx) is range:
            out.append(idx)
            continue
        arr = idx if type(idx) is np.ndarray else np.asarray(idx)
        if arr.ndim != 1:
            raise IndexError(f"the index array of axis {d} has {arr.ndim} dimensions, not 1")
        if arr.dtype.kind not in "iu" and arr.size:
            raise TypeError(f"the index array of axis {d} must hold integers, not {arr.dtype}")
        out.append(np.ascontiguousarray(arr, dtype=np.int64))
    return out


cdef int fill_selection(list arrays, Selection* sel) except -1:
    """The core's selection of index_arrays()' result; the arrays must stay
    alive while it is used."""
    cdef const int64_t[::1] view
    cdef AxisSelection axis
    for arr in arrays:
        if type(arr) is range:
            axis.count = len(arr)
            axis.indices = NULL
            axis.start = arr.start
            axis.step = arr.step
        else:
            view = arr
            axis.count = view.shape[0]
            axis.indices = &view[0] if view.shape[0] else <const int64_t*>NULL
            axis.start = 0
            axis.step = 1
        sel.axes.push_back(axis)
    return 0
