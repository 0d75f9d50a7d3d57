// gzip (RFC 1952) and zlib (RFC 1950) streams through libdeflate.
#include <libdeflate.h>

#include <map>
#include <memory>
#include <string>

#include "common/error.h"
#include "encode/byte_encoders.h"

namespace fastchunk {
namespace encode_impl {
namespace {

struct CompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

libdeflate_compressor* thread_compressor(int level) {
  thread_local std::map<int, std::unique_ptr<libdeflate_compressor, CompressorFree>> by_level;
  if (level < 0 || level > 12)
    throw Error(ErrorKind::kUnsupported,
                "gzip/zlib: level must be 0..12, got " + std::to_string(level));
  auto& slot = by_level[level];
  if (!slot) slot.reset(libdeflate_alloc_compressor(level));
  if (!slot) throw Error(ErrorKind::kMemory, "libdeflate: cannot allocate a compressor");
  return slot.get();
}

template <typename Bound, typename Compress>
void deflate_into(ByteView in, int level, std::string* out, Bound bound, Compress compress) {
  libdeflate_compressor* c = thread_compressor(level);
  const size_t start = out->size();
  out->resize(start + bound(c, in.size));
  const size_t n = compress(c, in.data, in.size, &(*out)[start], out->size() - start);
  if (n == 0) throw Error(ErrorKind::kInternal, "libdeflate: compression failed");
  out->resize(start + n);
}

}  // namespace

void gzip_encode(ByteView in, int level, std::string* out) {
  deflate_into(in, level, out, libdeflate_gzip_compress_bound, libdeflate_gzip_compress);
}

void zlib_encode(ByteView in, int level, std::string* out) {
  deflate_into(in, level, out, libdeflate_zlib_compress_bound, libdeflate_zlib_compress);
}

}  // namespace encode_impl
}  // namespace fastchunk
