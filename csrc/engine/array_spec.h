// Everything the core needs to know about one array, built once by the Python
// layer from the zarr metadata.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "engine/chunk_keys.h"

namespace fastchunk {

struct ShardSpec {
  std::vector<int64_t> chunks_per_shard;  // inner chunks along each axis
  ChainSpec index_chain;                  // decodes the index to little-endian uint64 pairs
  bool index_at_start = false;
};

struct ArraySpec {
  std::string store_name;             // named in error messages
  std::string store_id;               // names the store precisely in cache keys (scheme,
                                      // endpoint, bucket or root); never shown
  std::string decoding;               // the chain as the metadata names it (codecs, configurations,
                                      // data type): the shared cache keys on it
  std::string array_path;             // key prefix of the array inside the store ("" or "a/b/")
  std::vector<int64_t> shape;
  std::vector<int64_t> chunk_shape;   // the decode unit: inner chunks when sharded
  int64_t itemsize = 1;
  std::vector<uint8_t> fill;          // one element, native byte order
  ChainSpec chain;
  std::vector<int> stored_axes;       // stored axis i holds logical axis stored_axes[i]; empty = identity
  bool sharded = false;
  ShardSpec shard;
  KeySpec keys;
  bool verify() const;                // internal consistency, checked once
  int64_t chunk_nbytes() const;
};

// Key of the stored object at grid coordinates `coords` (the shard grid when sharded).
inline std::string storage_key(const ArraySpec& spec, const int64_t* coords, char separator) {
  return chunk_key(spec.array_path, spec.keys, coords, spec.shape.size(), separator);
}

}  // namespace fastchunk
