#include "cache/shard_index_cache.h"

namespace fastchunk {
namespace {

ShardIndexCache* const g_cache = &ShardIndexCache::instance();  // made at load time

}  // namespace

ShardIndexCache::ShardIndexCache() : lru_(kDefaultCapacity) {}

ShardIndexCache& ShardIndexCache::instance() {
  static ShardIndexCache* cache = new ShardIndexCache;
  return *cache;
}

std::string ShardIndexCache::key_of(const ArraySpec& spec, const std::string& key,
                                    const std::string& version) {
  std::string k = spec.store_id;
  k += '\n';
  k += key;
  k += '\n';
  k += version;
  k += '\n';
  k += spec.shard.index_at_start ? 's' : 'e';
  k += std::to_string(shard_index_nbytes(spec.shard));
  for (int64_t c : spec.shard.chunks_per_shard) {
    k += ',';
    k += std::to_string(c);
  }
  return k;
}

void ShardIndexCache::put(const std::string& cache_key, std::shared_ptr<const ShardIndex> index) {
  const size_t cost = index->nbytes() + cache_key.size();
  lru_.put(cache_key, std::move(index), cost);
}

}  // namespace fastchunk
