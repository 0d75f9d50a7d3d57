#include "api/cache_api.h"

#include <utility>

#include "cache/shared_cache.h"
#include "engine/thread_pool.h"

namespace fastchunk {

ErrorInfo api_set_shared_cache(const std::string& dir, uint64_t budget) {
  return guarded([&] { set_shared_cache(dir, budget); });
}

std::string api_shared_cache_dir() {
  std::shared_ptr<FileCache> cache = shared_cache();
  return cache ? cache->dir() : std::string();
}

ErrorInfo api_open_file_cache(const std::string& dir, uint64_t budget, bool map, bool checksum,
                              bool existing_only, FileCacheHandle* out) {
  return guarded([&] {
    const FileCache::Options options{map, checksum};
    out->cache = existing_only ? FileCache::open_existing(dir, options)
                               : FileCache::open(dir, budget, options);
  });
}

ErrorInfo api_cached_file_data(CachedFile& entry, const uint8_t** data) {
  return guarded([&] { *data = entry.data(); });
}

ErrorInfo api_file_cache_find(const FileCacheHandle& h, const std::string& key, CachedFile* out) {
  return guarded([&] { *out = h.cache->find(key); });
}

ErrorInfo api_file_cache_find_many(const FileCacheHandle& h, const std::vector<std::string>& keys,
                                   std::vector<CachedFile>* out) {
  return guarded([&] {
    out->clear();
    out->resize(keys.size());
    parallel_for(int64_t(keys.size()),
                 [&](int64_t i) { (*out)[size_t(i)] = h.cache->find(keys[size_t(i)]); });
  });
}

ErrorInfo api_file_cache_store(const FileCacheHandle& h, const std::string& key,
                               const uint8_t* data, size_t size, const std::string& tag,
                               bool replace, bool* stored) {
  return guarded([&] {
    *stored = replace ? h.cache->replace(key, data, size, tag) : h.cache->insert(key, data, size, tag);
  });
}

ErrorInfo api_file_cache_remove(const FileCacheHandle& h, const std::string& key) {
  return guarded([&] { h.cache->remove(key); });
}

ErrorInfo api_file_cache_clear(const FileCacheHandle& h) {
  return guarded([&] { h.cache->clear(); });
}

ErrorInfo api_file_cache_set_budget(const FileCacheHandle& h, uint64_t budget) {
  return guarded([&] { h.cache->set_budget(budget); });
}

ErrorInfo api_file_cache_recount(const FileCacheHandle& h) {
  return guarded([&] { h.cache->recount(); });
}

FileCacheStats api_file_cache_stats(const FileCacheHandle& h) { return h.cache->stats(); }

}  // namespace fastchunk
