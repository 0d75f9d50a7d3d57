// numcodecs LZ4 framing and the zarr v3 crc32c trailer.
#include <lz4.h>

#include <climits>
#include <string>

#include "codecs/crc32c.h"
#include "common/error.h"
#include "encode/byte_encoders.h"

namespace fastchunk {
namespace encode_impl {
namespace {

void append_le32(uint32_t v, std::string* out) {
  const char bytes[4] = {char(v & 0xff), char((v >> 8) & 0xff), char((v >> 16) & 0xff),
                         char((v >> 24) & 0xff)};
  out->append(bytes, 4);
}

}  // namespace

void lz4_encode(ByteView in, int acceleration, std::string* out) {
  if (in.size > size_t(LZ4_MAX_INPUT_SIZE))
    throw Error(ErrorKind::kUnsupported, "lz4: chunks over 2 GiB cannot be lz4-compressed");
  append_le32(uint32_t(in.size), out);
  const size_t start = out->size();
  const int bound = LZ4_compressBound(int(in.size));
  out->resize(start + size_t(bound));
  const int n = LZ4_compress_fast(reinterpret_cast<const char*>(in.data), &(*out)[start],
                                  int(in.size), bound, acceleration > 0 ? acceleration : 1);
  if (n <= 0 && in.size > 0) throw Error(ErrorKind::kInternal, "lz4: compression failed");
  out->resize(start + size_t(n > 0 ? n : 0));
}

void crc32c_append(ByteView in, std::string* out) {
  out->append(reinterpret_cast<const char*>(in.data), in.size);
  append_le32(crc32c(in.data, in.size), out);
}

}  // namespace encode_impl
}  // namespace fastchunk
