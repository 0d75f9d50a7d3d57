// The compressed level of the caching cascade: the stored bytes of chunks
// (a chunk object, or an inner chunk's byte range in a shard) kept in memory
// with a byte budget, shared by every array and thread of the process, off
// (budget 0) unless asked for. For the same memory it holds the compression
// ratio's worth more chunks than the decoded-chunk cache, and a hit costs a
// decode, no I/O.
//
// Keys name the store (ArraySpec::store_id), the object and the byte range;
// entries carry the object's version where the source knew it. Local files
// are checked against their version at each hit (a rewritten file is read
// again); fetched objects against the version a read plan was given for the
// object, where both are known (a shard rewritten under a read plan is
// never served from an older copy).
//
// Local files read through a mapping are not copied in: the page cache holds
// them already and mapped reads copy nothing. What comes in: bytes fetched
// from object stores, and local reads made with pread (network filesystems,
// small chunks, mapping turned off).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cache/byte_lru.h"
#include "io/byte_source.h"

namespace fastchunk {

struct StoredBytes : HeldBytes {
  std::unique_ptr<uint8_t[]> data;
  size_t size = 0;
  uint64_t object_size = kUnknownObjectSize;
  std::string version;
};

class StoredCache {
 public:
  static StoredCache& instance();
  static std::string key_of(const std::string& store_id, const std::string& key,
                            const ByteRange& range);

  std::shared_ptr<const StoredBytes> get(const std::string& cache_key) {
    auto hit = lru_.get(cache_key);
    publish();
    return hit;
  }
  // get() without counting a hit or a miss (a read plan looking ahead).
  std::shared_ptr<const StoredBytes> peek(const std::string& cache_key) const {
    return lru_.peek(cache_key);
  }
  bool contains(const std::string& cache_key) const { return lru_.contains(cache_key); }
  // Keeps a copy of `bytes` unless they alone exceed the budget.
  void put(const std::string& cache_key, ByteView bytes, uint64_t object_size,
           const std::string& version);
  void erase(const std::string& cache_key) { lru_.erase(cache_key); }

  void set_capacity(size_t bytes) {
    lru_.set_capacity(bytes);
    publish();
  }
  size_t capacity() const { return lru_.capacity(); }
  bool enabled() const { return lru_.enabled(); }
  size_t used() const { return lru_.used(); }
  size_t entries() const { return lru_.entries(); }
  void clear() {
    lru_.clear();
    publish();
  }
  LruStats stats() const { return lru_.stats(); }
  LruSnapshot snapshot() const { return lru_.snapshot(); }
  // Its numbers into this process's page for `fastchunk cache` (cache/process_stats.h).
  void publish() const;

 private:
  StoredCache() : lru_(0) {}
  ByteLru<StoredBytes> lru_;
};

// A source with the compressed cache in front of `inner`: hits answer from
// the cached copy (no copy made), misses read through `inner` and are kept
// (see above for what is kept). `check_versions`: a hit must match the
// version `inner` reports now (local files); else it must not differ from it
// where both are known (fetched objects).
class CachedSource : public ByteSource {
 public:
  CachedSource(ByteSource& inner, std::string store_id, bool check_versions)
      : inner_(inner), store_id_(std::move(store_id)), check_versions_(check_versions) {}

  bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
           ObjectBytes& out) override;
  bool reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
              ObjectBytes& out) override {
    return inner_.reread(key, range, storage, out);
  }
  std::string version(const std::string& key) override { return inner_.version(key); }
  bool unchanged(const std::string& key, const ObjectBytes& got) override {
    return inner_.unchanged(key, got);
  }

 private:
  ByteSource& inner_;
  std::string store_id_;
  bool check_versions_;
};

}  // namespace fastchunk
