// The Cython-facing surface of reads, shard indexes, chunk keys and the
// caches. Every function reports errors as an ErrorInfo: nothing is thrown
// across the language boundary.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "engine/array_spec.h"
#include "engine/chunk_keys.h"
#include "engine/read_plan.h"
#include "engine/task_grid.h"
#include "io/byte_source.h"

namespace fastchunk {

ErrorInfo api_verify_spec(const ArraySpec& spec);

// A whole read of local files under `root`.
ErrorInfo api_read_local(const ArraySpec& spec, const std::string& root, const Selection& sel,
                         uint8_t* out, uint64_t out_nbytes, int num_threads);

ErrorInfo api_plan_make(const ArraySpec& spec, const Selection& sel, int num_threads,
                        bool skip_cached, std::unique_ptr<ReadPlan>* plan);
ErrorInfo api_plan_know_versions(ReadPlan& plan, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& versions);
ErrorInfo api_plan_set_coalesce(ReadPlan& plan, bool on);
ErrorInfo api_plan_pending(ReadPlan& plan, std::vector<ByteRequest>* requests);
// `data` null: the object does not exist.
ErrorInfo api_plan_provide(ReadPlan& plan, const ByteRequest& request, const uint8_t* data,
                           size_t size, uint64_t object_size, const std::string& version);
ErrorInfo api_plan_decode_ready(ReadPlan& plan, uint8_t* out, int64_t* left);
ErrorInfo api_plan_finish(ReadPlan& plan, uint8_t* out);
ErrorInfo api_plan_object_keys(ReadPlan& plan, std::vector<std::string>* keys);
ErrorInfo api_plan_take_released(ReadPlan& plan, std::vector<std::string>* keys);

// The (offset, nbytes) entries of the index of a whole shard object.
ErrorInfo api_decode_shard_index(const ShardSpec& shard, const uint8_t* data, size_t size,
                                 std::vector<uint64_t>* entries);
// The entries of the index of the shard file `path` and the file's version
// as it was read (*found false: no such file).
ErrorInfo api_read_shard_index_file(const ShardSpec& shard, const std::string& path,
                                    std::vector<uint64_t>* entries, std::string* version,
                                    bool* found);

ErrorInfo api_chunk_key(const std::string& array_path, const KeySpec& keys,
                        const std::vector<int64_t>& coords, char separator, std::string* key);
// *parsed false: `key` names no chunk of the array.
ErrorInfo api_parse_chunk_key(const std::string& array_path, const KeySpec& keys, size_t ndim,
                              const std::string& key, std::vector<int64_t>* coords,
                              bool* parsed);

void chunk_cache_set_capacity(size_t bytes);
void chunk_cache_info(size_t* capacity, size_t* used, uint64_t* hits, uint64_t* misses,
                      uint64_t* evictions);
void chunk_cache_clear();
void shard_index_cache_set_capacity(size_t bytes);
void shard_index_cache_info(size_t* capacity, size_t* used, size_t* entries, uint64_t* hits,
                            uint64_t* misses, uint64_t* evictions);
void shard_index_cache_clear();

}  // namespace fastchunk
