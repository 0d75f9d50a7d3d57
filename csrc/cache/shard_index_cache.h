// Decoded and verified shard indexes, kept with a byte budget (default 64 MiB)
// for local and remote reads alike, shared by every array of the process. Keys name the object
// precisely: store identity, key and, where the source knows it, the
// object's version, so a rewritten local shard is never read through a
// stale index.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "cache/byte_lru.h"
#include "engine/array_spec.h"
#include "engine/shard_index.h"

namespace fastchunk {

class ShardIndexCache {
 public:
  static constexpr size_t kDefaultCapacity = size_t(64) << 20;
  static ShardIndexCache& instance();

  // Names the store (spec.store_id), the object and its version, and the
  // index layout the metadata declares (a rewritten zarr.json over the same
  // shard files must not be read through indexes of another shape).
  static std::string key_of(const ArraySpec& spec, const std::string& key,
                            const std::string& version);

  std::shared_ptr<const ShardIndex> get(const std::string& cache_key) { return lru_.get(cache_key); }
  void put(const std::string& cache_key, std::shared_ptr<const ShardIndex> index);
  void erase(const std::string& cache_key) { lru_.erase(cache_key); }

  void set_capacity(size_t bytes) { lru_.set_capacity(bytes); }
  size_t capacity() const { return lru_.capacity(); }
  bool enabled() const { return lru_.enabled(); }
  size_t used() const { return lru_.used(); }
  size_t entries() const { return lru_.entries(); }
  void clear() { lru_.clear(); }
  LruStats stats() const { return lru_.stats(); }

 private:
  ShardIndexCache();
  ByteLru<ShardIndex> lru_;
};

}  // namespace fastchunk
