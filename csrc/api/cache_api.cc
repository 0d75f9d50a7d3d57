#include "api/cache_api.h"

#include <utility>

#include "cache/chunk_cache.h"
#include "cache/shared_cache.h"
#include "cache/stored_cache.h"
#include "engine/thread_pool.h"
#include "io/mapped_files.h"
#include "io/sigbus_guard.h"

namespace fastchunk {

void api_compressed_cache_set_capacity(size_t nbytes) {
  StoredCache::instance().set_capacity(nbytes);
}

LruSnapshot api_compressed_cache_info() { return StoredCache::instance().snapshot(); }

void api_compressed_cache_clear() { StoredCache::instance().clear(); }

void api_set_map_budget(size_t nbytes) { MappedFiles::instance().set_budget(nbytes); }

MapInfo api_map_info() {
  MappedFiles& files = MappedFiles::instance();
  const MappedFilesStats st = files.stats();
  MapInfo info;
  info.budget = files.budget();
  info.mapped_bytes = files.mapped_bytes();
  info.mappings = files.mappings();
  info.hits = st.hits;
  info.maps = st.maps;
  info.evictions = st.evictions;
  info.refused = st.refused;
  info.faults = SigbusGuard::total_faults();
  return info;
}

void api_clear_maps() { MappedFiles::instance().clear(); }

ErrorInfo api_publish_process_stats(const std::string& dir) {
  return guarded([&] {
    publish_process_stats_in(dir);
    ChunkCache::instance().publish();
    StoredCache::instance().publish();
    publish_buffer_pool();
  });
}

ErrorInfo api_set_process_stats_dir(const std::string& dir) {
  return guarded([&] { set_process_stats_dir(dir); });
}

ErrorInfo api_unpublish_process_stats() {
  return guarded([&] { unpublish_process_stats(); });
}

ErrorInfo api_published_processes(const std::string& dir, std::vector<PublishedProcess>* out) {
  return guarded([&] { *out = read_published_processes(dir); });
}

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

namespace {

// Entries handed to Python are in memory of their own: a buffer Python reads
// never maps a file another process could cut short.
CachedFile find_loaded(FileCache& cache, const std::string& key) {
  CachedFile found = cache.find(key);
  if (found && !found.load()) {
    cache.drop(key);
    return CachedFile();
  }
  return found;
}

}  // namespace

ErrorInfo api_file_cache_find(const FileCacheHandle& h, const std::string& key, CachedFile* out) {
  return guarded([&] { *out = find_loaded(*h.cache, key); });
}

ErrorInfo api_file_cache_find_many(const FileCacheHandle& h, const std::vector<std::string>& keys,
                                   std::vector<CachedFile>* out) {
  return guarded([&] {
    out->clear();
    out->resize(keys.size());
    parallel_for(int64_t(keys.size()),
                 [&](int64_t i) { (*out)[size_t(i)] = find_loaded(*h.cache, keys[size_t(i)]); });
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
