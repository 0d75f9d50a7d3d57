#include "engine/chunk_keys.h"

#include <limits>

namespace fastchunk {
namespace {

// Splits `text` at `separator` into exactly ndim decimal numbers.
bool parse_parts(const std::string& text, size_t begin, char separator, size_t ndim,
                 std::vector<int64_t>& coords) {
  coords.clear();
  size_t pos = begin;
  for (size_t d = 0; d < ndim; ++d) {
    if (d) {
      if (pos >= text.size() || text[pos] != separator) return false;
      ++pos;
    }
    const size_t start = pos;
    int64_t value = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      const int digit = text[pos] - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) return false;
      value = value * 10 + digit;
      ++pos;
    }
    if (pos == start) return false;
    coords.push_back(value);
  }
  return pos == text.size();
}

}  // namespace

std::string chunk_key(const std::string& array_path, const KeySpec& keys, const int64_t* coords,
                      size_t ndim, char separator) {
  std::string key = array_path;
  if (ndim == 0) return key + keys.zero_dim_key;
  key += keys.prefix;
  for (size_t d = 0; d < ndim; ++d) {
    if (d) key += separator;
    key += std::to_string(coords[d]);
  }
  return key;
}

bool parse_chunk_key(const std::string& array_path, const KeySpec& keys, size_t ndim,
                     const std::string& key, std::vector<int64_t>& coords) {
  coords.clear();
  if (key.compare(0, array_path.size(), array_path) != 0) return false;
  const size_t rest = array_path.size();
  if (ndim == 0) return key.compare(rest, std::string::npos, keys.zero_dim_key) == 0;
  if (key.compare(rest, keys.prefix.size(), keys.prefix) != 0) return false;
  const size_t begin = rest + keys.prefix.size();
  if (parse_parts(key, begin, keys.separator, ndim, coords)) return true;
  return keys.nested_fallback && keys.separator != '/' &&
         parse_parts(key, begin, '/', ndim, coords);
}

}  // namespace fastchunk
