// Everything the core needs to know about one array, built once by the Python
// layer from the zarr metadata.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "codecs/chain.h"

namespace fastchunk {

struct KeySpec {
  std::string prefix;          // "c/" (v3 default), "" (v2 and v3 "v2" encoding)
  char separator = '.';
  std::string zero_dim_key;    // key of the single chunk of a 0-d array
  bool nested_fallback = false;  // v2 without dimension_separator: try "0/0" when "0.0" is missing
};

struct ShardSpec {
  std::vector<int64_t> chunks_per_shard;  // inner chunks along each axis
  ChainSpec index_chain;                  // decodes the index to little-endian uint64 pairs
  bool index_at_start = false;
};

struct ArraySpec {
  std::string store_name;             // named in error messages
  std::string store_id;               // names the store precisely (scheme, endpoint, bucket/root)
  std::string decoding;               // the chain as the metadata names it (codecs, configurations,
                                      // data type): shared caches key on it
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

}  // namespace fastchunk
