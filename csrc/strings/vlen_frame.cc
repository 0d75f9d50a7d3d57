#include "strings/vlen_frame.h"

#include <string>

#include "common/error.h"

namespace fastchunk {
namespace {

uint32_t read_u32le(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace

void parse_vlen_frame(ByteView in, int64_t items, int64_t* starts, int64_t* lengths) {
  if (in.size < 4) throw_decode("variable-length chunk shorter than its 4-byte item count");
  const uint32_t count = read_u32le(in.data);
  if (int64_t(count) != items)
    throw_decode("variable-length chunk holds " + std::to_string(count) + " items, expected " +
                 std::to_string(items));
  size_t pos = 4;
  for (int64_t i = 0; i < items; ++i) {
    if (in.size - pos < 4)
      throw_decode("variable-length chunk ends inside the length of item " + std::to_string(i));
    const uint32_t n = read_u32le(in.data + pos);
    pos += 4;
    if (n > in.size - pos)
      throw_decode("variable-length item " + std::to_string(i) + " claims " + std::to_string(n) +
                   " bytes, past the end of the chunk");
    starts[i] = int64_t(pos);
    lengths[i] = int64_t(n);
    pos += n;
  }
  if (pos != in.size)
    throw_decode(std::to_string(in.size - pos) + " bytes after the last variable-length item");
}

}  // namespace fastchunk
