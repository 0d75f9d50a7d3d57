// A chunk's encode chain: native byte order to stored order, then
// bytes-to-bytes codecs in encode order (the reverse of ChainSpec decoding).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.h"

namespace fastchunk {

struct EncodeStep {
  int codec = 0;          // ByteCodecId
  int level = 0;          // zstd/gzip/zlib/blosc level; lz4 acceleration
  int shuffle = 0;        // blosc: 0 none, 1 byte, 2 bit
  int blocksize = 0;      // blosc: 0 = automatic
  std::string cname;      // blosc inner compressor: lz4, lz4hc, blosclz, zstd, zlib
};

struct EncodeChain {
  std::vector<EncodeStep> steps;
  int swap_unit = 0;  // bytes per byte-swapped word from native to stored order; 0 = none
  int typesize = 1;   // item size, for blosc shuffling
};

// Encodes `size` bytes of one chunk (native order, C layout) into `out` (replaced).
// `data` may be byte-swapped in place.
void encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size, std::string* out);

}  // namespace fastchunk
