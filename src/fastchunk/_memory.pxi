# Memory the core hands to Python: read outputs from the buffer pool
# (csrc/common/buffer_pool.h: reused; fresh ones populated by idle threads
# while the read decodes into them, csrc/engine/output_pages.h),
# the mappings local reads decode from (csrc/io/mapped_files.h) and their
# read-ahead (csrc/engine/read_plan.h).
# Included by _core.pyx.

from cpython.buffer cimport PyBuffer_FillInfo


cdef class PooledBuffer:
    """Writable bytes from the core's buffer pool, given back when the last
    array using them goes."""

    cdef uint8_t* data
    cdef size_t nbytes
    cdef size_t capacity

    def __cinit__(self, size_t nbytes):
        cdef size_t capacity = 0
        with nogil:
            self.data = api_take_output_buffer(nbytes, &capacity, 0)
        if self.data == NULL:
            raise MemoryError(f"cannot allocate {nbytes} bytes")
        self.nbytes = nbytes
        self.capacity = capacity

    def __dealloc__(self):
        if self.data != NULL:
            with nogil:
                give_buffer(self.data, self.capacity)
            self.data = NULL

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        PyBuffer_FillInfo(buffer, self, <void*>self.data, self.nbytes, 0, flags)

    def __releasebuffer__(self, Py_buffer* buffer):
        pass


def empty(shape, dtype):
    """An uninitialised C-contiguous array like numpy.empty: large ones from
    the core's buffer pool (no page faults when a recent output of about the
    same size was freed; otherwise fresh pages, populated in bulk by idle
    threads while a read decodes into them (with one thread, at once), not
    faulted in one by one)."""
    dt = np.dtype(dtype)
    shape = tuple(int(n) for n in shape) if isinstance(shape, (tuple, list)) else (int(shape),)
    nbytes = dt.itemsize
    for n in shape:
        nbytes *= n
    if nbytes < kMappedMin or dt.hasobject:
        return np.empty(shape, dtype=dt)
    return np.frombuffer(PooledBuffer(nbytes), dtype=dt).reshape(shape)


def buffer_pool_info():
    cdef BufferPoolStats st = buffer_pool_stats()
    return {"budget": st.budget, "kept_bytes": st.kept_bytes, "kept_buffers": st.kept_buffers,
            "reused": st.reused, "made": st.made, "made_bytes": st.made_bytes,
            "released": st.released, "released_bytes": st.released_bytes}


def set_buffer_pool_size(size_t nbytes):
    set_buffer_pool_budget(nbytes)


def clear_buffer_pool_():
    clear_buffer_pool()


def set_map_size(size_t nbytes):
    """Bytes of local files kept mapped for reads (0: read with pread only)."""
    with nogil:
        api_set_map_budget(nbytes)


def map_info():
    cdef MapInfo st = api_map_info()
    return {"budget": st.budget, "mapped_bytes": st.mapped_bytes,
            "mappings": st.mappings, "hits": st.hits, "maps": st.maps,
            "evictions": st.evictions, "refused": st.refused, "faults": st.faults}


def clear_maps():
    with nogil:
        api_clear_maps()


def set_read_ahead(cbool on):
    """Whether local reads ask the kernel for the chunks ahead of those being
    decoded (posix_fadvise WILLNEED), so that a cold page cache has reads in
    flight. On by default."""
    set_read_ahead_c(on)


def get_read_ahead():
    return read_ahead_c()
