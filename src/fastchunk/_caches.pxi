# The decoded-chunk cache and the shard-index cache. Included by _core.pyx.


def set_cache_size(size_t nbytes):
    chunk_cache_set_capacity(nbytes)


def get_cache_info():
    cdef size_t capacity = 0, used = 0
    cdef uint64_t hits = 0, misses = 0, evictions = 0
    chunk_cache_info(&capacity, &used, &hits, &misses, &evictions)
    return {"capacity": capacity, "used": used, "hits": hits, "misses": misses,
            "evictions": evictions}


def clear_cache():
    chunk_cache_clear()


def set_shard_index_cache_size(size_t nbytes):
    """Byte budget of the decoded shard indexes kept (default 64 MiB)."""
    shard_index_cache_set_capacity(nbytes)


def get_shard_index_cache_info():
    cdef size_t capacity = 0, used = 0, entries = 0
    cdef uint64_t hits = 0, misses = 0, evictions = 0
    shard_index_cache_info(&capacity, &used, &entries, &hits, &misses, &evictions)
    return {"capacity": capacity, "used": used, "entries": entries, "hits": hits,
            "misses": misses, "evictions": evictions}


def clear_shard_index_cache():
    shard_index_cache_clear()
