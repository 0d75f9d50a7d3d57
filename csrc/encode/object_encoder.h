// Cuts destination chunks (or shards of inner chunks) out of a decoded slab of
// the array and encodes them in parallel: the write side of `fastchunk rechunk`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codecs/chain.h"

namespace fastchunk {

struct EncodeRequest {
  std::vector<int64_t> array_shape;
  std::vector<int64_t> slab_origin;   // where the slab starts in the array
  std::vector<int64_t> slab_shape;    // C-contiguous, native byte order
  std::vector<int64_t> chunk_shape;   // the encode unit (inner chunk when sharded)
  int64_t itemsize = 1;
  std::vector<uint8_t> fill;          // one element, native byte order
  ChainSpec chain;                    // encodes a chunk (native order, C layout)
  bool sharded = false;
  std::vector<int64_t> chunks_per_shard;
  ChainSpec index_chain;              // encodes the index of uint64 pairs (native order)
  // Grid coordinates (shard grid when sharded) of the objects to produce,
  // ndim entries per object, concatenated.
  std::vector<int64_t> object_coords;
};

// One encoded object per entry of object_coords, in that order. Shard indexes
// go at the end; inner chunks wholly outside the array are left empty.
void encode_objects(const EncodeRequest& req, const uint8_t* slab,
                    std::vector<std::string>* objects);

}  // namespace fastchunk
