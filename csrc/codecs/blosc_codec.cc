// Blosc 1 frames through c-blosc's context API (safe from many threads).
#include <blosc.h>

#include <cstring>
#include <string>

#include "codecs/byte_codecs.h"
#include "codecs/codec_impl.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kHeaderSize = 16;

struct BloscHeader {
  uint8_t flags;
  uint8_t typesize;
  uint32_t nbytes;
  uint32_t blocksize;
  uint32_t cbytes;
};

uint32_t read_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
         (uint32_t(p[3]) << 24);
}

BloscHeader parse_header(ByteView in) {
  if (in.size < kHeaderSize) throw_decode("blosc: frame shorter than its 16-byte header");
  BloscHeader h{in.data[2], in.data[3], read_le32(in.data + 4), read_le32(in.data + 8),
                read_le32(in.data + 12)};
  if (h.cbytes > in.size)
    throw_decode("blosc: header claims " + std::to_string(h.cbytes) +
                 " compressed bytes but the chunk holds " + std::to_string(in.size));
  size_t validated = 0;
  if (blosc_cbuffer_validate(in.data, in.size, &validated) != 0)
    throw_decode("blosc: invalid frame header");
  return h;
}

}  // namespace

namespace codec_impl {

int64_t blosc_announced_size(ByteView in) { return parse_header(in).nbytes; }

void blosc_decode(ByteView in, uint8_t* out, size_t out_size) {
  const BloscHeader h = parse_header(in);
  if (h.nbytes != out_size)
    throw_decode("blosc: header announces " + std::to_string(h.nbytes) +
                 " decoded bytes, expected " + std::to_string(out_size));
  if (out_size == 0) return;
  const int n = blosc_decompress_ctx(in.data, out, out_size, 1);
  if (n < 0 || size_t(n) != out_size)
    throw_decode("blosc: decompression failed (code " + std::to_string(n) + ")");
}

}  // namespace codec_impl

BloscLayout blosc_layout(ByteView in) {
  const BloscHeader h = parse_header(in);
  return BloscLayout{h.typesize ? h.typesize : 1u, h.blocksize, h.nbytes};
}

void blosc_decode_items(ByteView in, int64_t first, int64_t count, uint8_t* out) {
  const BloscHeader h = parse_header(in);
  const int64_t itemsize = h.typesize ? h.typesize : 1;
  if (first < 0 || count < 0 || (first + count) * itemsize > int64_t(h.nbytes))
    throw_decode("blosc: item range outside the frame");
  if (count == 0) return;
  const int n = blosc_getitem(in.data, int(first), int(count), out);
  if (n < 0 || n != count * itemsize)
    throw_decode("blosc: partial decompression failed (code " + std::to_string(n) + ")");
}

}  // namespace fastchunk
