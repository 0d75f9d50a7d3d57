#include "cache/stored_cache.h"

#include <cstring>

#include "cache/process_stats.h"

namespace fastchunk {
namespace {

// Made while the extension loads (one thread), never destroyed: worker
// threads may still use it while the process exits.
StoredCache* const g_cache = &StoredCache::instance();

}  // namespace

StoredCache& StoredCache::instance() {
  static StoredCache* cache = new StoredCache;
  return *cache;
}

std::string StoredCache::key_of(const std::string& store_id, const std::string& key,
                                const ByteRange& range) {
  std::string k = store_id + '\n' + key + '\n';
  switch (range.kind) {
    case ByteRange::Kind::kWhole: return k + "whole";
    case ByteRange::Kind::kSlice:
      return k + std::to_string(range.offset) + '+' + std::to_string(range.length);
    case ByteRange::Kind::kSuffix: return k + "suffix " + std::to_string(range.length);
  }
  return k;
}

void StoredCache::put(const std::string& cache_key, ByteView bytes, uint64_t object_size,
                      const std::string& version) {
  if (bytes.size > capacity()) return;
  auto entry = std::make_shared<StoredBytes>();
  entry->data.reset(new uint8_t[bytes.size ? bytes.size : 1]);
  if (bytes.size) std::memcpy(entry->data.get(), bytes.data, bytes.size);
  entry->size = bytes.size;
  entry->object_size = object_size;
  entry->version = version;
  lru_.put(cache_key, std::move(entry), bytes.size);
  publish();
}

void StoredCache::publish() const {
  if (!process_stats_published()) return;
  const LruSnapshot s = lru_.snapshot();
  publish_level(ProcessLevel::kCompressed, LevelNumbers{s.capacity, s.used, s.entries,
                                                        s.stats.hits, s.stats.misses,
                                                        s.stats.evictions});
}

bool CachedSource::get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                       ObjectBytes& out) {
  StoredCache& cache = StoredCache::instance();
  if (!cache.enabled()) return inner_.get(key, range, storage, out);
  const std::string cache_key = StoredCache::key_of(store_id_, key, range);
  if (auto hit = cache.get(cache_key)) {
    const std::string now = inner_.version(key);
    // Local files: the copy must be of the file as it is now. Fetched
    // objects: of the object the plan was given, where both versions are known.
    const bool current = check_versions_
                             ? !hit->version.empty() && hit->version == now
                             : hit->version.empty() || now.empty() || hit->version == now;
    if (current) {
      out.bytes = ByteView{hit->data.get(), hit->size};
      out.object_size = hit->object_size;
      out.version = hit->version;
      out.owner = std::move(hit);
      return true;
    }
    cache.erase(cache_key);  // the object changed since
  }
  if (!inner_.get(key, range, storage, out)) return false;
  // Mapped (or otherwise held) bytes are in memory already: not copied in.
  if (!out.owner && (!check_versions_ || !out.version.empty()))
    cache.put(cache_key, out.bytes, out.object_size, out.version);
  return true;
}

}  // namespace fastchunk
