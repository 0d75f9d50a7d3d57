#include "api/strings_api.h"

namespace fastchunk {

ErrorInfo api_parse_vlen(const uint8_t* data, size_t size, int64_t items, int64_t* starts,
                         int64_t* lengths) {
  return guarded([&] { parse_vlen_frame(ByteView{data, size}, items, starts, lengths); });
}

}  // namespace fastchunk
