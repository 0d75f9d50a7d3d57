// gzip (RFC 1952) and zlib (RFC 1950) streams through libdeflate.
#include <libdeflate.h>

#include <string>

#include "codecs/codec_impl.h"
#include "common/error.h"

namespace fastchunk {
namespace {

struct DecompressorHolder {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  ~DecompressorHolder() { libdeflate_free_decompressor(d); }
};

libdeflate_decompressor* thread_decompressor() {
  thread_local DecompressorHolder holder;
  if (!holder.d) throw Error(ErrorKind::kMemory, "libdeflate: cannot allocate");
  return holder.d;
}

void check(libdeflate_result r, size_t got, size_t expected, const char* what) {
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
    throw_decode(std::string(what) + ": stream decodes to more than the expected " +
                 std::to_string(expected) + " bytes");
  if (r != LIBDEFLATE_SUCCESS) throw_decode(std::string(what) + ": corrupt stream");
  if (got != expected)
    throw_decode(std::string(what) + ": decoded " + std::to_string(got) +
                 " bytes, expected " + std::to_string(expected));
}

}  // namespace

namespace codec_impl {

int64_t gzip_announced_size(ByteView in) {
  if (in.size < 18) return -1;
  const uint8_t* p = in.data + in.size - 4;  // ISIZE: size modulo 2^32
  return int64_t(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
                 (uint32_t(p[3]) << 24));
}

void gzip_decode(ByteView in, uint8_t* out, size_t out_size) {
  size_t got = 0;
  const auto r = libdeflate_gzip_decompress(thread_decompressor(), in.data, in.size, out,
                                            out_size, &got);
  check(r, got, out_size, "gzip");
}

void zlib_decode(ByteView in, uint8_t* out, size_t out_size) {
  size_t got = 0;
  const auto r = libdeflate_zlib_decompress(thread_decompressor(), in.data, in.size, out,
                                            out_size, &got);
  check(r, got, out_size, "zlib");
}

}  // namespace codec_impl
}  // namespace fastchunk
