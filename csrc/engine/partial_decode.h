// Decoding only the part of a chunk a selection needs, where the codec allows
// it: the blosc blocks that hold the selected elements, or the prefix of a
// zstd stream that ends at the last selected byte.
#pragma once
#include <cstddef>

#include "codecs/chain.h"
#include "plan/region_copy.h"

namespace fastchunk {

// Writes at least every byte of the chunk that `g` reads into `scratch` (a
// buffer of chunk_nbytes) and returns true; returns false, writing nothing,
// when decoding the whole chunk is as cheap or the chain does not allow it.
bool decode_needed_part(const ChainSpec& chain, ByteView raw, const RegionGeometry& g,
                        uint8_t* scratch, size_t chunk_nbytes);

}  // namespace fastchunk
