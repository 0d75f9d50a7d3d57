// Blosc 1 frames through c-blosc's context API (safe from many threads).
#include <blosc.h>

#include <string>

#include "common/error.h"
#include "encode/byte_encoders.h"

namespace fastchunk {
namespace encode_impl {

void blosc_encode(ByteView in, const std::string& cname, int level, int shuffle, int typesize,
                  int blocksize, std::string* out) {
  if (in.size > size_t(BLOSC_MAX_BUFFERSIZE))
    throw Error(ErrorKind::kUnsupported, "blosc: chunks over 2 GiB cannot be blosc-compressed");
  if (level < 0 || level > 9)
    throw Error(ErrorKind::kUnsupported, "blosc: level must be 0..9, got " + std::to_string(level));
  if (shuffle < 0 || shuffle > 2)
    throw Error(ErrorKind::kUnsupported, "blosc: shuffle must be 0, 1 or 2");
  const size_t start = out->size();
  out->resize(start + in.size + BLOSC_MAX_OVERHEAD);
  const int n = blosc_compress_ctx(level, shuffle, typesize > 0 ? typesize : 1, in.size, in.data,
                                   &(*out)[start], in.size + BLOSC_MAX_OVERHEAD, cname.c_str(),
                                   size_t(blocksize), 1);
  if (n <= 0)
    throw Error(ErrorKind::kUnsupported,
                "blosc: compression with '" + cname + "' failed (code " + std::to_string(n) +
                    "; is that compressor built into c-blosc?)");
  out->resize(start + size_t(n));
}

}  // namespace encode_impl
}  // namespace fastchunk
