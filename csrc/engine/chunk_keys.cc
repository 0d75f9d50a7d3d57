#include "engine/chunk_keys.h"

namespace fastchunk {

std::string storage_key(const ArraySpec& spec, const int64_t* coords, char separator) {
  std::string key = spec.array_path;
  const size_t nd = spec.shape.size();
  if (nd == 0) return key + spec.keys.zero_dim_key;
  key += spec.keys.prefix;
  for (size_t d = 0; d < nd; ++d) {
    if (d) key += separator;
    key += std::to_string(coords[d]);
  }
  return key;
}

}  // namespace fastchunk
