// gzip streams (RFC 1952: numcodecs GZip, zarr v3 gzip) through libdeflate.
#include <memory>
#include <string>

#include "codecs/deflate_contexts.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kMinStream = 18;  // 10-byte header, empty deflate block, 8-byte trailer

class GzipCodec final : public Codec {
 public:
  explicit GzipCodec(int64_t level) : level_(level) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    size_t got = 0;
    const auto r = libdeflate_gzip_decompress(thread_deflate_decompressor(), in.data, in.size,
                                              out, out_size, &got);
    check_inflated(r, got, out_size, "gzip");
  }

  uint64_t most_decoded_bytes(size_t stored) const override { return most_inflated_bytes(stored); }

  // The trailer's ISIZE holds the decoded size modulo 2^32 only, so it checks
  // a size but never tells one.
  void check_decoded_size(ByteView in, size_t size) const override {
    Codec::check_decoded_size(in, size);
    if (in.size < kMinStream) return;
    const uint8_t* p = in.data + in.size - 4;
    const uint32_t isize =
        uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
    if (isize != uint32_t(size))
      throw_decode("gzip: trailer announces " + std::to_string(isize) +
                   " decoded bytes (modulo 2^32), expected " + std::to_string(size));
  }

  void encode(ByteView in, std::string* out) const override {
    check_level();
    libdeflate_compressor* c = thread_deflate_compressor(int(level_));
    const size_t start = out->size();
    out->resize(start + libdeflate_gzip_compress_bound(c, in.size));
    const size_t n =
        libdeflate_gzip_compress(c, in.data, in.size, &(*out)[start], out->size() - start);
    if (n == 0) throw Error(ErrorKind::kInternal, "gzip: compression failed");
    out->resize(start + n);
  }

  CodecConfig configuration(int) const override {
    check_level();
    return CodecConfig().set_int("level", level_);
  }

 private:
  void check_level() const {
    if (level_ < 0 || level_ > 9)
      throw Error(ErrorKind::kUnsupported, "gzip: level must be 0..9, got " + std::to_string(level_));
  }
  int64_t level_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext&) {
  return std::make_unique<GzipCodec>(config.get_int("level", 5));
}

}  // namespace

extern const CodecDefinition kGzipCodec = {"gzip", CodecKind::kBytesToBytes,
                                           kNumcodecsId | kZarrV3Name, "level", make};

}  // namespace fastchunk
