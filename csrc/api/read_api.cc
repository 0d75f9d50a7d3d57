#include "api/read_api.h"

#include <cstring>

#include "cache/chunk_cache.h"
#include "cache/shard_index_cache.h"
#include "common/error.h"
#include "engine/output_pages.h"
#include "engine/shard_index.h"
#include "io/fetched_source.h"
#include "io/local_source.h"

namespace fastchunk {

ErrorInfo api_verify_spec(const ArraySpec& spec) {
  return guarded([&] { spec.verify(); });
}

ErrorInfo api_read_local(const ArraySpec& spec, const std::string& root, const Selection& sel,
                         uint8_t* out, uint64_t out_nbytes, int num_threads) {
  return guarded([&] {
    ReadPlan plan(spec, sel, num_threads);
    if (plan.output_nbytes() != out_nbytes)
      throw Error(ErrorKind::kIndex, "the output holds " + std::to_string(out_nbytes) +
                                         " bytes, the selection " +
                                         std::to_string(plan.output_nbytes()));
    LocalSource source(root);
    PopulateAlongside pages(out, size_t(out_nbytes), num_threads);
    plan.execute(source, out);
  });
}

ErrorInfo api_plan_make(const ArraySpec& spec, const Selection& sel, int num_threads,
                        bool skip_cached, std::unique_ptr<ReadPlan>* plan) {
  return guarded([&] { plan->reset(new ReadPlan(spec, sel, num_threads, skip_cached)); });
}

ErrorInfo api_plan_know_versions(ReadPlan& plan, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& versions) {
  return guarded([&] { plan.know_versions(keys, versions); });
}

ErrorInfo api_plan_set_coalesce(ReadPlan& plan, bool on) {
  return guarded([&] { plan.set_coalesce(on); });
}

ErrorInfo api_plan_pending(ReadPlan& plan, std::vector<ByteRequest>* requests) {
  return guarded([&] { *requests = plan.pending(); });
}

ErrorInfo api_plan_provide(ReadPlan& plan, const ByteRequest& request, const uint8_t* data,
                           size_t size, uint64_t object_size, const std::string& version) {
  return guarded([&] {
    if (!data) {
      plan.provide_missing(request);
    } else {
      plan.provide(request, ByteView{data, size}, object_size, version);
    }
  });
}

ErrorInfo api_plan_decode_ready(ReadPlan& plan, uint8_t* out, int64_t* left) {
  return guarded([&] {
    PopulateAlongside pages(out, size_t(plan.output_nbytes()), plan.threads());
    *left = plan.decode_ready(out);
  });
}

ErrorInfo api_plan_finish(ReadPlan& plan, uint8_t* out) {
  return guarded([&] {
    PopulateAlongside pages(out, size_t(plan.output_nbytes()), plan.threads());
    plan.finish(out);
  });
}

ErrorInfo api_plan_object_keys(ReadPlan& plan, std::vector<std::string>* keys) {
  return guarded([&] { *keys = plan.object_keys(); });
}

ErrorInfo api_plan_take_released(ReadPlan& plan, std::vector<std::string>* keys) {
  return guarded([&] { *keys = plan.take_released(); });
}

namespace {

void flatten(const ShardIndex& index, std::vector<uint64_t>* entries) {
  entries->resize(index.entries.size() * 2);
  for (size_t i = 0; i < index.entries.size(); ++i) {
    (*entries)[2 * i] = index.entries[i].offset;
    (*entries)[2 * i + 1] = index.entries[i].nbytes;
  }
}

}  // namespace

ErrorInfo api_decode_shard_index(const ShardSpec& shard, const uint8_t* data, size_t size,
                                 std::vector<uint64_t>* entries) {
  return guarded([&] {
    FetchedSource source;
    source.provide("shard", ByteRange::whole(), ByteView{data, size}, size);
    flatten(*read_shard_index(shard, source, "shard"), entries);
  });
}

ErrorInfo api_read_shard_index_file(const ShardSpec& shard, const std::string& path,
                                    std::vector<uint64_t>* entries, std::string* version,
                                    bool* found) {
  return guarded([&] {
    LocalSource files("");
    const auto index = read_shard_index(shard, files, path);
    *found = index != nullptr;
    if (!index) return;
    flatten(*index, entries);
    *version = index->version;
  });
}

ErrorInfo api_chunk_key(const std::string& array_path, const KeySpec& keys,
                        const std::vector<int64_t>& coords, char separator, std::string* key) {
  return guarded([&] { *key = chunk_key(array_path, keys, coords.data(), coords.size(), separator); });
}

ErrorInfo api_parse_chunk_key(const std::string& array_path, const KeySpec& keys, size_t ndim,
                              const std::string& key, std::vector<int64_t>* coords,
                              bool* parsed) {
  return guarded([&] { *parsed = parse_chunk_key(array_path, keys, ndim, key, *coords); });
}

void chunk_cache_set_capacity(size_t bytes) { ChunkCache::instance().set_capacity(bytes); }

void chunk_cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                      uint64_t* evictions) {
  ChunkCache& cache = ChunkCache::instance();
  const LruStats st = cache.stats();
  *capacity = cache.capacity();
  *used = cache.used();
  *hits = st.hits;
  *misses = st.misses;
  *evictions = st.evictions;
}

void chunk_cache_clear() { ChunkCache::instance().clear(); }

void shard_index_cache_set_capacity(size_t bytes) {
  ShardIndexCache::instance().set_capacity(bytes);
}

void shard_index_cache_info(size_t* capacity, size_t* used, size_t* entries, uint64_t* hits,
                            uint64_t* misses, uint64_t* evictions) {
  ShardIndexCache& cache = ShardIndexCache::instance();
  const LruStats st = cache.stats();
  *capacity = cache.capacity();
  *used = cache.used();
  *entries = cache.entries();
  *hits = st.hits;
  *misses = st.misses;
  *evictions = st.evictions;
}

void shard_index_cache_clear() { ShardIndexCache::instance().clear(); }

}  // namespace fastchunk
