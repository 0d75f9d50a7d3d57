#include "api/batch_api.h"

namespace fastchunk {

ErrorInfo api_decode_batch(const BatchLayout& layout, const std::vector<BatchChunk>& chunks) {
  return guarded([&] { decode_batch(layout, chunks); });
}

}  // namespace fastchunk
