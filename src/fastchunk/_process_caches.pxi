# The process-local caches: decoded chunks, stored bytes (the compressed
# level) and shard indexes. Included by _core.pyx.


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


def set_compressed_cache_size(size_t nbytes):
    """Byte budget of the compressed level (stored bytes of chunks in memory)."""
    with nogil:
        api_compressed_cache_set_capacity(nbytes)


def get_compressed_cache_info():
    cdef LruSnapshot s = api_compressed_cache_info()
    return {"capacity": s.capacity, "used": s.used, "entries": s.entries,
            "hits": s.stats.hits, "misses": s.stats.misses, "evictions": s.stats.evictions}


def clear_compressed_cache():
    with nogil:
        api_compressed_cache_clear()


def publish_process_stats(str directory):
    """Publishes this process's cache numbers in `directory` for `fastchunk
    cache` ("": stops, removing the page). Raises OSError when another user
    could change `directory`."""
    cdef string d = directory.encode()
    with nogil:
        check(api_publish_process_stats(d))


def set_process_stats_directory(str directory):
    """Where this process's page goes once a level has something to show (a
    cache turned on, a buffer pool keeping 64 MiB or more); "" stops."""
    cdef string d = directory.encode()
    with nogil:
        check(api_set_process_stats_dir(d))


def unpublish_process_stats_():
    with nogil:
        check(api_unpublish_process_stats())


cdef dict _level_dict(const LevelNumbers& n):
    return {"capacity": n.capacity, "used": n.used, "entries": n.entries, "hits": n.hits,
            "misses": n.misses, "evictions": n.evictions}


def published_processes(str directory):
    """[(pid, {"decoded": numbers, "compressed": numbers, "buffer_pool":
    numbers})] of the live processes that publish in `directory`; pages of
    dead ones are removed."""
    cdef string d = directory.encode()
    cdef vector[PublishedProcess] procs
    with nogil:
        check(api_published_processes(d, &procs))
    return [(p.pid, {"decoded": _level_dict(p.levels[0]),
                     "compressed": _level_dict(p.levels[1]),
                     "buffer_pool": _level_dict(p.levels[2])}) for p in procs]
