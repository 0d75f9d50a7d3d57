#include "api/api.h"

#include "cache/chunk_cache.h"
#include "codecs/crc32c.h"
#include "common/error.h"
#include "io/local_source.h"

namespace fastchunk {
ErrorInfo api_verify_spec(const ArraySpec& spec) {
  return guarded([&] { spec.verify(); });
}

ErrorInfo api_read_local(const ArraySpec& spec, const std::string& root, const Selection& sel,
                         uint8_t* out) {
  return guarded([&] {
    LocalSource source(root);
    read_selection(spec, source, sel, out);
  });
}

ErrorInfo api_read_memory(const ArraySpec& spec, MemorySource& source, const Selection& sel,
                          uint8_t* out, const std::unordered_set<std::string>* skip) {
  return guarded([&] { read_selection(spec, source, sel, out, skip); });
}

ErrorInfo api_needed_keys(const ArraySpec& spec, const Selection& sel, bool skip_cached,
                          std::vector<std::string>* keys) {
  return guarded([&] { *keys = needed_keys(spec, sel, skip_cached); });
}

ErrorInfo api_needed_chunks(const ArraySpec& spec, const Selection& sel,
                            std::vector<std::pair<std::string, int64_t>>* chunks) {
  return guarded([&] { *chunks = needed_chunks(spec, sel); });
}

ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* in, size_t in_size,
                           uint8_t* out, size_t out_size) {
  return guarded([&] { decode_chunk(chain, ByteView{in, in_size}, out, out_size); });
}

void cache_set_capacity(size_t bytes) { ChunkCache::instance().set_capacity(bytes); }

void cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                uint64_t* evictions) {
  ChunkCache& cache = ChunkCache::instance();
  const ChunkCache::Stats st = cache.stats();
  *capacity = cache.capacity();
  *used = cache.used();
  *hits = st.hits;
  *misses = st.misses;
  *evictions = st.evictions;
}

void cache_clear() { ChunkCache::instance().clear(); }

ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc) {
  return guarded([&] { *crc = crc32c(data, size); });
}

}  // namespace fastchunk
