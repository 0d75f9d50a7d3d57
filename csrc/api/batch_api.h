// The Cython module's entry to the batch decoder (engine/chunk_batch.h):
// exceptions come back as (kind, message).
#pragma once
#include <vector>

#include "api/guarded.h"
#include "engine/chunk_batch.h"

namespace fastchunk {

ErrorInfo api_decode_batch(const BatchLayout& layout, const std::vector<BatchChunk>& chunks);

}  // namespace fastchunk
