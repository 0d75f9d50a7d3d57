// The C++ surface of the caches for the Cython module: the node-wide decoded
// chunk cache and file caches opened by directory (the disk cache of remote
// objects, the `fastchunk cache` command). Nothing is thrown across.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "cache/file_cache.h"

namespace fastchunk {

struct FileCacheHandle {
  std::shared_ptr<FileCache> cache;
};

ErrorInfo api_set_shared_cache(const std::string& dir, uint64_t budget);
std::string api_shared_cache_dir();  // empty when this process uses none

// existing_only: never creates; leaves out->cache empty when there is no cache.
ErrorInfo api_open_file_cache(const std::string& dir, uint64_t budget, bool map, bool checksum,
                              bool existing_only, FileCacheHandle* out);
ErrorInfo api_file_cache_find(const FileCacheHandle& h, const std::string& key, CachedFile* out);
// The entry's bytes, mapped on first use.
ErrorInfo api_cached_file_data(CachedFile& entry, const uint8_t** data);
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
