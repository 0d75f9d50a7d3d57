// numcodecs LZ4: a 4-byte little-endian decoded size, then one LZ4 block.
#include <lz4.h>

#include <climits>
#include <memory>
#include <string>

#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kHeader = 4;

struct Lz4Settings {
  int64_t acceleration = 1;
  void bind(ConfigBinder& b) { b.integer("acceleration", acceleration, 1, 65537); }
};

class Lz4Codec final : public BytesToBytesCodec {
 public:
  explicit Lz4Codec(Lz4Settings settings)
      : BytesToBytesCodec(std::nullopt), settings_(settings) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    const uint64_t announced = *decoded_size(in);
    if (announced != out_size)
      throw_decode("lz4: header announces " + std::to_string(announced) +
                   " decoded bytes, expected " + std::to_string(out_size));
    if (in.size - kHeader > size_t(INT_MAX) || out_size > size_t(INT_MAX))
      throw Error(ErrorKind::kUnsupported, "lz4: blocks over 2 GiB are not supported");
    if (out_size == 0) return;
    const int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data + kHeader),
                                      reinterpret_cast<char*>(out), int(in.size - kHeader),
                                      int(out_size));
    if (n < 0 || size_t(n) != out_size) throw_decode("lz4: corrupt block");
  }

  KnownSize decoded_size(ByteView in) const override {
    if (in.size < kHeader) throw_decode("lz4: chunk shorter than its 4-byte size header");
    const uint8_t* p = in.data;
    return uint64_t(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) |
                    (uint32_t(p[3]) << 24));
  }

  // A match grows by at most 255 bytes per stored byte (its length's extension bytes).
  KnownSize most_decoded_bytes(size_t stored) const override { return uint64_t(stored) * 255 + 16; }

  void encode(ByteView in, std::string* out) const override {
    if (in.size > size_t(LZ4_MAX_INPUT_SIZE))
      throw Error(ErrorKind::kUnsupported, "lz4: chunks over 2 GiB cannot be lz4-compressed");
    const uint32_t n = uint32_t(in.size);
    const char header[4] = {char(n & 0xff), char((n >> 8) & 0xff), char((n >> 16) & 0xff),
                            char((n >> 24) & 0xff)};
    out->append(header, 4);
    const size_t start = out->size();
    const int bound = LZ4_compressBound(int(in.size));
    out->resize(start + size_t(bound));
    const int written = LZ4_compress_fast(reinterpret_cast<const char*>(in.data), &(*out)[start],
                                          int(in.size), bound, int(settings_.acceleration));
    if (written <= 0 && in.size > 0) throw Error(ErrorKind::kInternal, "lz4: compression failed");
    out->resize(start + size_t(written > 0 ? written : 0));
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(settings_, zarr_format);
  }

 private:
  Lz4Settings settings_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  return std::make_unique<Lz4Codec>(read_settings<Lz4Settings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kLz4Codec = {"lz4", CodecKind::kBytesToBytes, kNumcodecsId,
                                          "acceleration", make};

}  // namespace fastchunk
