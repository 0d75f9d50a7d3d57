#include "cache/shared_cache.h"

#include <mutex>
#include <utility>

#include "cache/chunk_cache.h"
#include "common/buffer.h"
#include "common/fork_safe_mutex.h"
#include "plan/region_read.h"

namespace fastchunk {
namespace {

ForkSafeMutex* const g_mutex = new ForkSafeMutex(LockRank::kSharedCacheSetting);
std::shared_ptr<FileCache>* g_cache = new std::shared_ptr<FileCache>;

// A hit's bytes as region_read takes them: the cache supplies the bytes,
// region_read chooses how to copy them.
class EntryBytes : public ChunkBytes {
 public:
  explicit EntryBytes(CachedFile& entry) : entry_(entry) {}
  size_t size() const override { return entry_.size(); }
  bool read(uint64_t offset, uint8_t* dst, size_t n) override { return entry_.read(offset, dst, n); }
  const uint8_t* map() override { return entry_.data(); }
  bool intact() const override { return entry_.intact(); }

 private:
  CachedFile& entry_;
};

}  // namespace

void set_shared_cache(const std::string& dir, uint64_t budget) {
  std::shared_ptr<FileCache> cache;
  if (budget > 0) cache = FileCache::open(dir, budget, FileCache::Options{true, false});
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  *g_cache = std::move(cache);
}

std::shared_ptr<FileCache> shared_cache() {
  std::lock_guard<ForkSafeMutex> lock(*g_mutex);
  return *g_cache;
}

std::string shared_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                             const std::string& version) {
  if (spec.store_id.empty() || spec.decoding.empty() || version.empty()) return std::string();
  return decoded_chunk_key(spec, key, inner, version);
}

SharedChunk SharedChunk::find(const ArraySpec& spec, ByteSource& source, const std::string& key,
                              int64_t inner, size_t nbytes, bool may_defer) {
  SharedChunk chunk;
  // Stored bytes that are the decoded bytes gain nothing from sharing.
  if (spec.chain.codecs.empty()) return chunk;
  std::shared_ptr<FileCache> cache = shared_cache();
  if (!cache) return chunk;
  chunk.key_ = shared_chunk_key(spec, key, inner, source.version(key));
  if (chunk.key_.empty()) return chunk;
  chunk.hit_ = cache->find_or_claim(chunk.key_, nbytes, chunk.claim_,
                                    may_defer ? &chunk.busy_ : nullptr);
  if (!chunk.busy_) chunk.cache_ = std::move(cache);
  return chunk;
}

bool SharedChunk::copy_to(const RegionGeometry& geom, uint8_t* out) {
  EntryBytes bytes(hit_);
  if (copy_region_from(geom, bytes, out)) return true;
  gone();
  return false;
}

bool SharedChunk::read_whole(uint8_t* out) {
  if (hit_.read(0, out, hit_.size())) return true;
  gone();
  return false;
}

void SharedChunk::gone() {
  // Cut short under us (only a process of this user can): dropped, and the
  // chunk is decoded as on a miss. Nothing is filled for it this time.
  cache_->drop(key_);
  hit_ = CachedFile();
  cache_.reset();
}

void SharedChunk::fill(const uint8_t* decoded, size_t nbytes) {
  if (!wanted()) return;
  cache_->insert(key_, decoded, nbytes);
  claim_.release();
}

}  // namespace fastchunk
