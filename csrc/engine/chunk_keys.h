// Object keys of chunks and shards.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/array_spec.h"

namespace fastchunk {

// Key of the stored object at grid coordinates `coords` (shard grid when sharded).
std::string storage_key(const ArraySpec& spec, const int64_t* coords, char separator);

}  // namespace fastchunk
