# csrc/cache through csrc/api/read_api.h and csrc/api/cache_api.h (never a
# cache singleton directly): the decoded-chunk, compressed and shard-index
# caches of the process, its stats page, the node-wide shared cache and file
# caches.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector

from fastchunk.includes.common cimport ErrorInfo


cdef extern from "api/read_api.h" namespace "fastchunk":
    void chunk_cache_set_capacity(size_t nbytes) nogil
    void chunk_cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                          uint64_t* evictions) nogil
    void chunk_cache_clear() nogil
    void shard_index_cache_set_capacity(size_t nbytes) nogil
    void shard_index_cache_info(size_t* capacity, size_t* used, size_t* entries, uint64_t* hits,
                                uint64_t* misses, uint64_t* evictions) nogil
    void shard_index_cache_clear() nogil

cdef extern from "cache/file_cache.h" namespace "fastchunk":
    cdef cppclass FileCacheStats:
        uint64_t budget, used, entries, hits, misses, inserts, evictions, waits, dropped

    cdef cppclass CachedFile:
        CachedFile()
        const uint8_t* data()
        size_t size()
        const string& tag()
        cbool operator bool()

cdef extern from "api/cache_api.h" namespace "fastchunk":
    cdef cppclass FileCacheHandle:
        pass
    ErrorInfo api_set_shared_cache(const string& dir, uint64_t budget) nogil
    string api_shared_cache_dir() nogil
    ErrorInfo api_open_file_cache(const string& dir, uint64_t budget, cbool map, cbool checksum,
                                  cbool existing_only, FileCacheHandle* out) nogil
    ErrorInfo api_file_cache_find(const FileCacheHandle& h, const string& key,
                                  CachedFile* out) nogil
    ErrorInfo api_file_cache_find_many(const FileCacheHandle& h, const vector[string]& keys,
                                       vector[CachedFile]* out) nogil
    ErrorInfo api_file_cache_store(const FileCacheHandle& h, const string& key,
                                   const uint8_t* data, size_t size, const string& tag,
                                   cbool replace, cbool* stored) nogil
    ErrorInfo api_file_cache_remove(const FileCacheHandle& h, const string& key) nogil
    ErrorInfo api_file_cache_clear(const FileCacheHandle& h) nogil
    ErrorInfo api_file_cache_set_budget(const FileCacheHandle& h, uint64_t budget) nogil
    ErrorInfo api_file_cache_recount(const FileCacheHandle& h) nogil
    FileCacheStats api_file_cache_stats(const FileCacheHandle& h) nogil

cdef extern from *:
    """
    static bool fastchunk_handle_empty(const fastchunk::FileCacheHandle& h) { return !h.cache; }
    """
    cbool handle_empty "fastchunk_handle_empty"(const FileCacheHandle& h) nogil

cdef extern from "cache/byte_lru.h" namespace "fastchunk":
    cdef cppclass LruStats:
        uint64_t hits, misses, evictions

    cdef cppclass LruSnapshot:
        size_t capacity, used, entries
        LruStats stats

cdef extern from "cache/process_stats.h" namespace "fastchunk":
    cdef cppclass LevelNumbers:
        uint64_t capacity, used, entries, hits, misses, evictions

    cdef cppclass PublishedProcess:
        int64_t pid
        LevelNumbers levels[3]

cdef extern from "api/cache_api.h" namespace "fastchunk":
    cdef cppclass MapInfo:
        size_t budget, mapped_bytes, mappings
        uint64_t hits, maps, evictions, refused, faults
    void api_set_map_budget(size_t nbytes) nogil
    MapInfo api_map_info() nogil
    void api_clear_maps() nogil
    void api_compressed_cache_set_capacity(size_t nbytes) nogil
    LruSnapshot api_compressed_cache_info() nogil
    void api_compressed_cache_clear() nogil
    ErrorInfo api_publish_process_stats(const string& dir) nogil
    ErrorInfo api_set_process_stats_dir(const string& dir) nogil
    ErrorInfo api_unpublish_process_stats() nogil
    ErrorInfo api_published_processes(const string& dir, vector[PublishedProcess]* out) nogil
