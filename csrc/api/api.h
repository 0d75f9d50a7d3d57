// The narrow C++ surface of the codec calls the Cython module makes outside
// reads. Every function catches exceptions and reports them as (kind,
// message): nothing is thrown across the language boundary. Reads, shard
// indexes, chunk keys and caches: api/read_api.h; the codec registry:
// codecs/codec_api.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "codecs/chain.h"

namespace fastchunk {

// Decodes one chunk through a chain, for callers outside the selection path.
ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* in, size_t in_size,
                           uint8_t* out, size_t out_size);
ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc);

}  // namespace fastchunk
