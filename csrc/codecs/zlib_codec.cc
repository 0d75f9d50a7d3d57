// zlib streams (RFC 1950: numcodecs Zlib) through libdeflate.
#include <memory>
#include <string>

#include "codecs/deflate_contexts.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

class ZlibCodec final : public Codec {
 public:
  explicit ZlibCodec(int64_t level) : level_(level) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    size_t got = 0;
    const auto r = libdeflate_zlib_decompress(thread_deflate_decompressor(), in.data, in.size,
                                              out, out_size, &got);
    check_inflated(r, got, out_size, "zlib");
  }

  uint64_t most_decoded_bytes(size_t stored) const override { return most_inflated_bytes(stored); }

  void encode(ByteView in, std::string* out) const override {
    check_level();
    libdeflate_compressor* c = thread_deflate_compressor(int(level_));
    const size_t start = out->size();
    out->resize(start + libdeflate_zlib_compress_bound(c, in.size));
    const size_t n =
        libdeflate_zlib_compress(c, in.data, in.size, &(*out)[start], out->size() - start);
    if (n == 0) throw Error(ErrorKind::kInternal, "zlib: compression failed");
    out->resize(start + n);
  }

  CodecConfig configuration(int) const override {
    check_level();
    return CodecConfig().set_int("level", level_);
  }

 private:
  void check_level() const {
    if (level_ < 0 || level_ > 9)
      throw Error(ErrorKind::kUnsupported, "zlib: level must be 0..9, got " + std::to_string(level_));
  }
  int64_t level_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext&) {
  return std::make_unique<ZlibCodec>(config.get_int("level", 5));
}

}  // namespace

extern const CodecDefinition kZlibCodec = {"zlib", CodecKind::kBytesToBytes, kNumcodecsId,
                                           "level", make};

}  // namespace fastchunk
