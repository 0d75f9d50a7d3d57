// The C++ surface of the caches for the Cython module: the process's
// compressed level and stats page, the node-wide decoded chunk cache and file
// caches opened by directory (the disk cache of remote objects, the
// `fastchunk cache` command). The Cython module reaches no cache singleton
// but through here. Nothing is thrown across.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "cache/byte_lru.h"
#include "cache/file_cache.h"
#include "cache/process_stats.h"

namespace fastchunk {

struct FileCacheHandle {
  std::shared_ptr<FileCache> cache;
};

// The compressed level of this process (cache/stored_cache.h).
void api_compressed_cache_set_capacity(size_t nbytes);
LruSnapshot api_compressed_cache_info();
void api_compressed_cache_clear();

// The mappings of local files kept across reads (io/mapped_files.h), and the
// faults the SIGBUS guard turned into zero pages (io/sigbus_guard.h).
struct MapInfo {
  size_t budget = 0, mapped_bytes = 0, mappings = 0;
  uint64_t hits = 0, maps = 0, evictions = 0, refused = 0, faults = 0;
};
void api_set_map_budget(size_t nbytes);
MapInfo api_map_info();
void api_clear_maps();

// This process's stats page for `fastchunk cache` (cache/process_stats.h):
// published in `dir` ("": no longer), with both levels' numbers at once.
ErrorInfo api_publish_process_stats(const std::string& dir);
// Names the directory without opening the page (it opens when a level has
// something to show; a directory another user could change gets none).
ErrorInfo api_set_process_stats_dir(const std::string& dir);
ErrorInfo api_unpublish_process_stats();
ErrorInfo api_published_processes(const std::string& dir, std::vector<PublishedProcess>* out);

ErrorInfo api_set_shared_cache(const std::string& dir, uint64_t budget);
std::string api_shared_cache_dir();  // empty when this process uses none

// existing_only: never creates; leaves out->cache empty when there is no cache.
ErrorInfo api_open_file_cache(const std::string& dir, uint64_t budget, bool map, bool checksum,
                              bool existing_only, FileCacheHandle* out);
ErrorInfo api_file_cache_find(const FileCacheHandle& h, const std::string& key, CachedFile* out);
// Every key at once, on the native threads (reads and checksums in parallel).
ErrorInfo api_file_cache_find_many(const FileCacheHandle& h, const std::vector<std::string>& keys,
                                   std::vector<CachedFile>* out);
ErrorInfo api_file_cache_store(const FileCacheHandle& h, const std::string& key,
                               const uint8_t* data, size_t size, const std::string& tag,
                               bool replace, bool* stored);
ErrorInfo api_file_cache_remove(const FileCacheHandle& h, const std::string& key);
ErrorInfo api_file_cache_clear(const FileCacheHandle& h);
ErrorInfo api_file_cache_set_budget(const FileCacheHandle& h, uint64_t budget);
ErrorInfo api_file_cache_recount(const FileCacheHandle& h);
FileCacheStats api_file_cache_stats(const FileCacheHandle& h);

}  // namespace fastchunk
