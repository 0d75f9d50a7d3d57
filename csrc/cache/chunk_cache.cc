#include "cache/chunk_cache.h"

#include <cstring>

#include "cache/process_stats.h"

namespace fastchunk {
namespace {

// Made while the extension loads (one thread), never destroyed: worker
// threads may still use it while the process exits.
ChunkCache* const g_cache = &ChunkCache::instance();

void append_field(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

std::string decoded_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                              const std::string& version) {
  // Length-prefixed fields: no two different tuples give the same string.
  std::string k = "chunk2 ";
  append_field(k, spec.store_id);
  append_field(k, key);
  std::string layout = std::to_string(spec.itemsize) + ';' + std::to_string(spec.chunk_nbytes());
  for (int64_t c : spec.chunk_shape) layout += ',' + std::to_string(c);
  layout += ';';
  for (int a : spec.stored_axes) layout += std::to_string(a) + ',';
  append_field(k, layout);
  append_field(k, spec.decoding);
  append_field(k, spec.sharded ? std::to_string(inner) : std::string("-"));
  append_field(k, version);
  return k;
}

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
