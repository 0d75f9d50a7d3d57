#include "cache/chunk_cache.h"

#include <cstring>

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
}

}  // namespace fastchunk
