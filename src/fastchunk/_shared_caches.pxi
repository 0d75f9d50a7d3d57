# The caches' bindings (included by _core.pyx): the node-wide decoded-chunk
# cache and file caches opened by directory.

from cpython.buffer cimport PyBuffer_FillInfo
from libcpp.utility cimport move


def set_shared_cache(str directory, uint64_t budget):
    """Attaches this process to the node-wide decoded-chunk cache in
    `directory` (budget 0: detaches it)."""
    cdef string d = directory.encode()
    with nogil:
        check(api_set_shared_cache(d, budget))


def shared_cache_dir():
    """The directory of the shared cache this process uses, or None."""
    cdef string d = api_shared_cache_dir()
    return d.decode() if d.size() else None


cdef class CachedBytes:
    """The bytes of one cache entry, read-only, without a copy."""

    cdef CachedFile entry

    def __getbuffer__(self, Py_buffer* buffer, int flags):
        PyBuffer_FillInfo(buffer, self, <void*>self.entry.data(), self.entry.size(), 1, flags)

    def __releasebuffer__(self, Py_buffer* buffer):
        pass

    def __len__(self):
        return self.entry.size()

    @property
    def tag(self):
        return self.entry.tag().decode("utf-8", "replace")


cdef class FileCache:
    """A directory of cached byte strings shared by the node's processes, with
    a byte budget over all of them (csrc/cache/file_cache.h)."""

    cdef FileCacheHandle handle
    cdef public str directory

    def __init__(self, str directory, uint64_t budget=0, *, cbool mapped=False,
                 cbool checksum=True, cbool existing=False):
        self.directory = directory
        cdef string d = directory.encode()
        with nogil:
            check(api_open_file_cache(d, budget, mapped, checksum, existing, &self.handle))
        if handle_empty(self.handle):
            raise FileNotFoundError(f"no fastchunk cache in {directory!r}")

    def get(self, str key):
        """The entry stored under `key` (a buffer with a .tag), or None."""
        cdef string k = key.encode()
        cdef CachedBytes out = CachedBytes.__new__(CachedBytes)
        with nogil:
            check(api_file_cache_find(self.handle, k, &out.entry))
        return out if out.entry else None

    def get_many(self, keys):
        """get() of every key, read and checked on the native threads."""
        cdef vector[string] ks
        for key in keys:
            ks.push_back(key.encode())
        cdef vector[CachedFile] found
        with nogil:
            check(api_file_cache_find_many(self.handle, ks, &found))
        out = []
        cdef CachedBytes entry
        cdef size_t i
        for i in range(found.size()):
            if found[i]:
                entry = CachedBytes.__new__(CachedBytes)
                entry.entry = move(found[i])
                out.append(entry)
            else:
                out.append(None)
        return out

    def put(self, str key, data, str tag="", cbool replace=False):
        """Stores a copy of `data`; False when it does not fit or another
        process stored the key first (replace=True overwrites)."""
        cdef string k = key.encode()
        cdef string t = tag.encode()
        cdef const uint8_t[::1] buf = memoryview(data).cast("B")
        cdef const uint8_t* ptr = &buf[0] if buf.shape[0] else <const uint8_t*>""
        cdef size_t n = buf.shape[0]
        cdef cbool stored = False
        with nogil:
            check(api_file_cache_store(self.handle, k, ptr, n, t, replace, &stored))
        return stored

    def remove(self, str key):
        cdef string k = key.encode()
        with nogil:
            check(api_file_cache_remove(self.handle, k))

    def clear(self):
        """Removes every entry and zeroes the counters."""
        with nogil:
            check(api_file_cache_clear(self.handle))

    def set_budget(self, uint64_t budget):
        with nogil:
            check(api_file_cache_set_budget(self.handle, budget))

    def recount(self):
        """Counts the directory again (as after a holder died mid-update)."""
        with nogil:
            check(api_file_cache_recount(self.handle))

    def stats(self):
        cdef FileCacheStats st = api_file_cache_stats(self.handle)
        return {"budget": st.budget, "used": st.used, "entries": st.entries, "hits": st.hits,
                "misses": st.misses, "inserts": st.inserts, "evictions": st.evictions,
                "waits": st.waits, "dropped": st.dropped}
