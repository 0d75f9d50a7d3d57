// numcodecs LZ4 framing: a 4-byte little-endian decoded size, then one LZ4 block.
#include <lz4.h>

#include <climits>
#include <string>

#include "codecs/codec_impl.h"
#include "common/error.h"

namespace fastchunk {
namespace codec_impl {

int64_t lz4_announced_size(ByteView in) {
  if (in.size < 4) throw_decode("lz4: chunk shorter than its 4-byte size header");
  const uint8_t* p = in.data;
  return int64_t(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
                 (uint32_t(p[3]) << 24));
}

void lz4_decode(ByteView in, uint8_t* out, size_t out_size) {
  const int64_t announced = lz4_announced_size(in);
  if (announced != int64_t(out_size))
    throw_decode("lz4: header announces " + std::to_string(announced) +
                 " decoded bytes, expected " + std::to_string(out_size));
  if (in.size - 4 > size_t(INT_MAX) || out_size > size_t(INT_MAX))
    throw Error(ErrorKind::kUnsupported, "lz4: blocks over 2 GiB are not supported");
  if (out_size == 0) return;
  const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data + 4),
                                    reinterpret_cast<char*>(out), int(in.size - 4),
                                    int(out_size));
  if (n < 0 || size_t(n) != out_size) throw_decode("lz4: corrupt block");
}

}  // namespace codec_impl
}  // namespace fastchunk
