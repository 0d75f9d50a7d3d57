// Reading and checking the index of a sharding_indexed object.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/array_spec.h"
#include "io/chunk_source.h"

namespace fastchunk {

struct ShardEntry {
  uint64_t offset;
  uint64_t nbytes;
  bool empty() const { return offset == UINT64_MAX && nbytes == UINT64_MAX; }
};

struct ShardIndex {
  bool missing = false;             // the shard object does not exist
  std::vector<ShardEntry> entries;  // C order over the shard's inner-chunk grid
};

// Reads the index of the shard stored under `key`, checking that every entry
// lies inside the shard object.
ShardIndex read_shard_index(const ArraySpec& spec, ChunkSource& source, const std::string& key);

}  // namespace fastchunk
