// The narrow C++ surface of the codecs the Cython module calls. Every
// function catches exceptions and reports them as (kind, message): nothing
// is thrown across the language boundary. Reads: api/read_api.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "api/guarded.h"
#include "codecs/chain.h"

namespace fastchunk {

void chain_push_codec(ChainSpec* chain, int codec_id);

// Decodes one chunk through a chain, for callers outside the selection path.
ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* in, size_t in_size,
                           uint8_t* out, size_t out_size);
ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc);

}  // namespace fastchunk
