#include "api/api.h"

#include "codecs/crc32c.h"
#include "common/error.h"

namespace fastchunk {

ErrorInfo api_decode_chunk(const ChainSpec& chain, const uint8_t* in, size_t in_size,
                           uint8_t* out, size_t out_size) {
  return guarded([&] { decode_chunk(chain, ByteView{in, in_size}, out, out_size); });
}

ErrorInfo api_crc32c(const uint8_t* data, size_t size, uint32_t* crc) {
  return guarded([&] { *crc = crc32c(data, size); });
}

}  // namespace fastchunk
