#include "codecs/chain.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"

namespace fastchunk {
namespace {

// Intermediate streams of a multi-codec chain are compressed data: never
// larger than the final chunk plus codec overhead. Anything claiming more is
// rejected before allocating.
size_t intermediate_limit(size_t final_size) { return final_size + final_size / 2 + 65536; }

ByteBuffer& scratch(int which) {
  thread_local ByteBuffer buffers[2];
  return buffers[which];
}

}  // namespace

void swap_bytes_inplace(uint8_t* data, size_t size, int unit) {
  switch (unit) {
    case 2:
      for (size_t i = 0; i + 2 <= size; i += 2) std::swap(data[i], data[i + 1]);
      return;
    case 4:
      for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t v;
        std::memcpy(&v, data + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(data + i, &v, 4);
      }
      return;
    case 8:
      for (size_t i = 0; i + 8 <= size; i += 8) {
        uint64_t v;
        std::memcpy(&v, data + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(data + i, &v, 8);
      }
      return;
    default:
      for (size_t i = 0; i + unit <= size; i += unit) std::reverse(data + i, data + i + unit);
  }
}

void decode_chunk(const ChainSpec& chain, ByteView encoded, uint8_t* out, size_t out_size) {
  ByteView current = encoded;
  // Checksums at the outside of the chain only verify; they need no copy.
  size_t n = chain.byte_codecs.size();
  while (n > 0 && chain.byte_codecs[n - 1] == ByteCodecId::kCrc32c) {
    current = strip_crc32c(current);
    --n;
  }
  int ping = 0;
  for (size_t i = n; i-- > 0;) {
    const ByteCodecId codec = chain.byte_codecs[i];
    if (i == 0) {
      decode_bytes_into(codec, current, out, out_size);
      current = ByteView{out, out_size};
      break;
    }
    if (codec == ByteCodecId::kCrc32c) {
      current = strip_crc32c(current);
      continue;
    }
    const int64_t announced = announced_decoded_size(codec, current);
    if (announced < 0)
      throw Error(ErrorKind::kUnsupported,
                  "codec chain: an inner codec does not announce its decoded size");
    if (size_t(announced) > intermediate_limit(out_size))
      throw_decode("codec chain: intermediate stream claims " + std::to_string(announced) +
                   " bytes, more than the chunk can hold");
    ByteBuffer& buf = scratch(ping);
    ping ^= 1;
    uint8_t* dst = buf.reserve(size_t(announced));
    decode_bytes_into(codec, current, dst, size_t(announced));
    current = ByteView{dst, size_t(announced)};
  }
  if (n == 0) {
    if (current.size != out_size)
      throw_decode("raw chunk holds " + std::to_string(current.size) + " bytes, expected " +
                   std::to_string(out_size));
    if (out_size) std::memmove(out, current.data, out_size);
  }
  if (chain.swap_unit > 1) swap_bytes_inplace(out, out_size, chain.swap_unit);
}

}  // namespace fastchunk
