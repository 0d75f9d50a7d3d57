#include "cache/shared_cache.h"

#include <pthread.h>

#include <mutex>
#include <utility>

namespace fastchunk {
namespace {

std::mutex g_mutex;
std::shared_ptr<FileCache>* g_cache = new std::shared_ptr<FileCache>;

// A fork while another thread swaps the cache would leave the child a held lock.
const bool g_atfork = [] {
  pthread_atfork([] { g_mutex.lock(); }, [] { g_mutex.unlock(); }, [] { g_mutex.unlock(); });
  return true;
}();

void append_field(std::string& out, const std::string& field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

void set_shared_cache(const std::string& dir, uint64_t budget) {
  (void)g_atfork;
  std::shared_ptr<FileCache> cache;
  if (budget > 0) cache = FileCache::open(dir, budget, FileCache::Options{true, false});
  std::lock_guard<std::mutex> lock(g_mutex);
  *g_cache = std::move(cache);
}

std::shared_ptr<FileCache> shared_cache() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return *g_cache;
}

std::string shared_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                             const std::string& version) {
  if (spec.store_id.empty() || version.empty()) return std::string();
  // Length-prefixed fields: no two different tuples give the same string.
  std::string k = "chunk1 ";
  append_field(k, spec.store_id);
  append_field(k, key);
  std::string decoding = std::to_string(spec.itemsize) + ';' + std::to_string(spec.chunk_nbytes());
  for (int64_t c : spec.chunk_shape) decoding += ',' + std::to_string(c);
  decoding += ';';
  for (auto id : spec.chain.byte_codecs) decoding += std::to_string(int(id)) + ',';
  decoding += ';' + std::to_string(spec.chain.swap_unit) + ';';
  for (int a : spec.stored_axes) decoding += std::to_string(a) + ',';
  append_field(k, decoding);
  append_field(k, spec.sharded ? std::to_string(inner) : std::string("-"));
  append_field(k, version);
  return k;
}

SharedChunk SharedChunk::find(const ArraySpec& spec, ChunkSource& source, const std::string& key,
                              int64_t inner, size_t nbytes) {
  SharedChunk chunk;
  // Stored bytes that are the decoded bytes gain nothing from sharing.
  if (spec.chain.byte_codecs.empty()) return chunk;
  std::shared_ptr<FileCache> cache = shared_cache();
  if (!cache) return chunk;
  chunk.key_ = shared_chunk_key(spec, key, inner, source.version(key));
  if (chunk.key_.empty()) return chunk;
  chunk.hit_ = cache->find_or_claim(chunk.key_, nbytes, chunk.claim_);
  chunk.cache_ = std::move(cache);
  return chunk;
}

void SharedChunk::copy_to(const RegionGeometry& geom, uint8_t* out) {
  const Collapsed c = collapse_region(geom);
  if (c.outer == 0 && size_t(c.block) == hit_.size()) {
    hit_.read_into(out + region_dst_offset(geom));
  } else {
    copy_region(geom, hit_.data(), out);
  }
}

void SharedChunk::fill(const uint8_t* decoded, size_t nbytes) {
  if (!wanted()) return;
  cache_->insert(key_, decoded, nbytes);
  claim_.release();
}

}  // namespace fastchunk
