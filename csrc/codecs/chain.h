// A chunk's codec chain as the core runs it: bytes-to-bytes decoders, then the
// byte order of the `bytes` codec. Axis permutations (v2 order "F", v3
// `transpose`) are not applied here: the copy reads the decoded chunk through
// permuted strides instead (see plan/chunk_layout.h).
#pragma once
#include <cstdint>
#include <vector>

#include "codecs/byte_codecs.h"
#include "common/buffer.h"

namespace fastchunk {

struct ChainSpec {
  std::vector<ByteCodecId> byte_codecs;  // in encode order; decoded last to first
  int swap_unit = 0;                     // bytes per byte-swapped word; 0 = none
};

// Decodes one stored chunk into exactly out_size bytes at out.
void decode_chunk(const ChainSpec& chain, ByteView encoded, uint8_t* out, size_t out_size);

// Rejects a chunk whose own header announces a decoded size other than
// out_size, or that is too short to decode to out_size at the format's best
// ratio, before anything is allocated for it. Checks a raw chunk's size, or
// the one codec of a single-codec chain.
void check_announced_size(const ChainSpec& chain, ByteView encoded, size_t out_size);

// Reverses the byte order of each `unit`-byte word in place.
void swap_bytes_inplace(uint8_t* data, size_t size, int unit);

}  // namespace fastchunk
