// The decoded-chunk cache: an LRU with a byte budget, shared by every array
// and thread of the process, off (budget 0) unless asked for. The first level
// of the caching cascade: a later epoch over a data set that fits reads no
// bytes and decodes nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fastchunk {

struct CachedChunk {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
};

class ChunkCache {
 public:
  static ChunkCache& instance();

  void set_capacity(size_t bytes);  // shrinks at once when lowered
  size_t capacity() const;
  size_t used() const;
  bool enabled() const;
  void clear();

  std::shared_ptr<const CachedChunk> get(const std::string& key);
  bool contains(const std::string& key) const;  // no effect on recency or stats
  // Copies `size` bytes from `data`; chunks larger than the budget are not kept.
  void put(const std::string& key, const uint8_t* data, size_t size);

  struct Stats {
    uint64_t hits, misses, evictions;
  };
  Stats stats() const;

 private:
  ChunkCache() = default;
};

}  // namespace fastchunk
