// Helpers for the codec tests: sample data and one-codec chains.
// Header-only; never part of the library.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "codecs/chain.h"

namespace fastchunk::testing {

// Smooth values with noisy low bits, like a weather field.
inline std::vector<uint8_t> sample_bytes(size_t n_items, int itemsize, uint32_t seed = 1) {
  std::vector<uint8_t> out(n_items * size_t(itemsize));
  uint32_t state = seed;
  for (size_t i = 0; i < n_items; ++i) {
    state = state * 1664525u + 1013904223u;
    const double v = std::sin(double(i) / 50.0) * 1000.0 + double(state >> 24) / 64.0;
    if (itemsize == 8) {
      std::memcpy(&out[i * 8], &v, 8);
    } else if (itemsize == 4) {
      const float f = float(v);
      std::memcpy(&out[i * 4], &f, 4);
    } else {
      for (int b = 0; b < itemsize; ++b) out[i * size_t(itemsize) + size_t(b)] = uint8_t(state >> (8 * (b % 4)));
    }
  }
  return out;
}

inline ChainSpec single(const std::string& name, const CodecConfig& config, const std::string& dtype,
                 int zarr_format = 3) {
  return build_chain({CodecStep{name, config}}, dtype, zarr_format);
}

inline std::vector<uint8_t> decode_all(const ChainSpec& chain, const std::string& encoded, size_t n) {
  std::vector<uint8_t> out(n);
  const ByteView in{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()};
  check_announced_size(chain, in, n);
  decode_chunk(chain, in, out.data(), n);
  return out;
}

}  // namespace fastchunk::testing
