// The decoded-chunk cache: an LRU with a byte budget, shared by every array
// and thread of the process, off (budget 0) unless asked for. The first level
// of the caching cascade: a later epoch over a data set that fits reads no
// bytes and decodes nothing. Keys name the store precisely (ArraySpec::store_id).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cache/byte_lru.h"
#include "engine/array_spec.h"

namespace fastchunk {

// The key of one decoded chunk, in the process level and the node level
// alike: the store (ArraySpec::store_id), the object key, the layout (item
// size, chunk shape, axis order), the decoding (codecs and configurations as
// the metadata names them, the data type with its byte order), the inner
// chunk of a shard and the object's version ("" where unknown). A rewritten
// object, or the same bytes read as another data type, is another key.
std::string decoded_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                              const std::string& version);

struct CachedChunk {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
};

class ChunkCache {
 public:
  static ChunkCache& instance();

  void set_capacity(size_t bytes) {  // shrinks at once when lowered
    lru_.set_capacity(bytes);
    publish();
  }
  size_t capacity() const { return lru_.capacity(); }
  size_t used() const { return lru_.used(); }
  bool enabled() const { return lru_.enabled(); }
  void clear() {
    lru_.clear();
    publish();
  }

  std::shared_ptr<const CachedChunk> get(const std::string& key) {
    auto hit = lru_.get(key);
    publish();
    return hit;
  }
  bool contains(const std::string& key) const { return lru_.contains(key); }
  // Copies `size` bytes from `data`; chunks larger than the budget are not kept.
  void put(const std::string& key, const uint8_t* data, size_t size);

  using Stats = LruStats;
  Stats stats() const { return lru_.stats(); }
  LruSnapshot snapshot() const { return lru_.snapshot(); }
  // Its numbers into this process's page for `fastchunk cache` (cache/process_stats.h).
  void publish() const;

 private:
  ChunkCache() : lru_(0) {}
  ByteLru<CachedChunk> lru_;
};

}  // namespace fastchunk
