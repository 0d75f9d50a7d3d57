# csrc/cache through csrc/api/read_api.h: the decoded-chunk and shard-index caches.
from libc.stdint cimport uint64_t


cdef extern from "api/read_api.h" namespace "fastchunk":
    void chunk_cache_set_capacity(size_t nbytes) nogil
    void chunk_cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                          uint64_t* evictions) nogil
    void chunk_cache_clear() nogil
    void shard_index_cache_set_capacity(size_t nbytes) nogil
    void shard_index_cache_info(size_t* capacity, size_t* used, size_t* entries, uint64_t* hits,
                                uint64_t* misses, uint64_t* evictions) nogil
    void shard_index_cache_clear() nogil
