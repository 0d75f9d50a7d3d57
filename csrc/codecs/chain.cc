#include "codecs/chain.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "common/error.h"
#include "common/scratch.h"

namespace fastchunk {
namespace {

// Intermediate streams of a multi-codec chain are compressed data: never
// larger than the final chunk plus codec overhead. Anything claiming more is
// rejected before allocating.
size_t intermediate_limit(size_t final_size) { return final_size + final_size / 2 + 65536; }

// The most bytes `size` stored bytes of a stream can decode to, from the best
// ratio each format allows: deflate 1032:1 (a 258-byte match in 2 bits), zstd
// 32768:1 (a 128 KiB RLE block from 4 bytes), plus room for headers.
uint64_t most_decoded_bytes(ByteCodecId codec, size_t size) {
  switch (codec) {
    case ByteCodecId::kGzip:
    case ByteCodecId::kZlib: return uint64_t(size) * 1032 + 1024;
    case ByteCodecId::kZstd: return uint64_t(size) * 32768 + (128 << 10);
    default: return UINT64_MAX;
  }
}

ByteBuffer& scratch(int which) {
  return fastchunk::scratch(which == 0 ? Scratch::kCodecIn : Scratch::kCodecOut);
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

void check_announced_size(const ChainSpec& chain, ByteView encoded, size_t out_size) {
  size_t n = chain.byte_codecs.size();
  size_t size = encoded.size;
  for (; n > 0 && chain.byte_codecs[n - 1] == ByteCodecId::kCrc32c; --n) {
    if (size < 4) return;  // decode_chunk reports the short chunk
    size -= 4;
  }
  if (n == 0) {
    if (size != out_size)
      throw_decode("raw chunk holds " + std::to_string(size) + " bytes, expected " +
                   std::to_string(out_size));
    return;
  }
  if (n > 1) return;
  const ByteCodecId codec = chain.byte_codecs[0];
  if (out_size > most_decoded_bytes(codec, size))
    throw_decode(std::to_string(size) + " stored bytes cannot decode to the " +
                 std::to_string(out_size) + " bytes of a chunk");
  const int64_t announced = announced_decoded_size(codec, ByteView{encoded.data, size});
  if (announced < 0) return;
  // gzip's trailer holds the size modulo 2^32.
  const uint64_t expected = codec == ByteCodecId::kGzip ? uint32_t(out_size) : out_size;
  if (uint64_t(announced) != expected)
    throw_decode("header announces " + std::to_string(announced) + " decoded bytes, expected " +
                 std::to_string(out_size));
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
