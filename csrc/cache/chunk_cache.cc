#include "cache/chunk_cache.h"

#include <cstring>

#include "cache/process_stats.h"

namespace fastchunk {
namespace {

// Made while the extension loads (one thread), never destroyed: worker
// threads may still use it while the process exits.
ChunkCache* const g_cache = &ChunkCache::instance();

}  // namespace

ChunkCache& ChunkCache::instance() {
  static ChunkCache* cache = new ChunkCache;
  return *cache;
}

void ChunkCache::put(const std::string& key, const uint8_t* data, size_t size) {
  if (size > capacity()) return;
  auto chunk = std::make_shared<CachedChunk>();
  chunk->data.reset(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(chunk->data.get(), data, size);
  chunk->size = size;
  lru_.put(key, std::move(chunk), size);
  publish();
}

void ChunkCache::publish() const {
  if (!process_stats_published()) return;
  const LruSnapshot s = lru_.snapshot();
  publish_level(ProcessLevel::kDecoded, LevelNumbers{s.capacity, s.used, s.entries, s.stats.hits,
                                                     s.stats.misses, s.stats.evictions});
}

}  // namespace fastchunk
