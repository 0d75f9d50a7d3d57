#include "codecs/deflate_framing.h"

#include <map>
#include <memory>
#include <string>

#include "common/error.h"

namespace fastchunk {
namespace {

struct DecompressorHolder {
  libdeflate_decompressor* d = libdeflate_alloc_decompressor();
  ~DecompressorHolder() { libdeflate_free_decompressor(d); }
};

struct CompressorFree {
  void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

}  // namespace

libdeflate_decompressor* thread_deflate_decompressor() {
  thread_local DecompressorHolder holder;
  if (!holder.d) throw Error(ErrorKind::kMemory, "libdeflate: cannot allocate");
  return holder.d;
}

libdeflate_compressor* thread_deflate_compressor(int level) {
  thread_local std::map<int, std::unique_ptr<libdeflate_compressor, CompressorFree>> by_level;
  if (level < 0 || level > 12)
    throw Error(ErrorKind::kUnsupported, "level must be 0..12, got " + std::to_string(level));
  auto& slot = by_level[level];
  if (!slot) slot.reset(libdeflate_alloc_compressor(level));
  if (!slot) throw Error(ErrorKind::kMemory, "libdeflate: cannot allocate a compressor");
  return slot.get();
}

void check_inflated(libdeflate_result r, size_t got, size_t expected, const char* what) {
  if (r == LIBDEFLATE_INSUFFICIENT_SPACE)
    throw_decode(std::string(what) + ": stream decodes to more than the expected " +
                 std::to_string(expected) + " bytes");
  if (r != LIBDEFLATE_SUCCESS) throw_decode(std::string(what) + ": corrupt stream");
  if (got != expected)
    throw_decode(std::string(what) + ": decoded " + std::to_string(got) + " bytes, expected " +
                 std::to_string(expected));
}

void DeflateCodec::decode(ByteView in, uint8_t* out, size_t out_size) const {
  size_t got = 0;
  const auto r =
      framing_.decompress(thread_deflate_decompressor(), in.data, in.size, out, out_size, &got);
  check_inflated(r, got, out_size, framing_.name);
}

void DeflateCodec::encode(ByteView in, std::string* out) const {
  libdeflate_compressor* c = thread_deflate_compressor(int(settings_.level));
  const size_t start = out->size();
  out->resize(start + framing_.compress_bound(c, in.size));
  const size_t n = framing_.compress(c, in.data, in.size, &(*out)[start], out->size() - start);
  if (n == 0) throw Error(ErrorKind::kInternal, std::string(framing_.name) + ": compression failed");
  out->resize(start + n);
}

CodecConfig DeflateCodec::configuration(int zarr_format) const {
  return write_settings(settings_, zarr_format);
}

}  // namespace fastchunk
