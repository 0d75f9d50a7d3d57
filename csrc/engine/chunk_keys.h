// Object keys of chunks and shards: the one implementation, used by the
// core's reads and, through the Cython boundary, by everything in Python
// that builds or parses keys (fastchunk.zarr.chunk_keys).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastchunk {

struct KeySpec {
  std::string prefix;            // "c/" (v3 default), "" (v2 and v3 "v2" encoding)
  char separator = '.';
  std::string zero_dim_key;      // key of the single chunk of a 0-d array
  bool nested_fallback = false;  // v2 without dimension_separator: try "0/0" when "0.0" is missing
};

// Key of the object at grid coordinates `coords` (ndim of them) of the array
// stored under `array_path` ("" or "a/b/"), joined with `separator`.
std::string chunk_key(const std::string& array_path, const KeySpec& keys, const int64_t* coords,
                      size_t ndim, char separator);

// The grid coordinates `key` names, or false when it is no chunk key of the
// array (another prefix, another rank, a part that is not a decimal number).
// With nested_fallback, '/'-separated keys are accepted too.
bool parse_chunk_key(const std::string& array_path, const KeySpec& keys, size_t ndim,
                     const std::string& key, std::vector<int64_t>& coords);

}  // namespace fastchunk
