// gzip streams (RFC 1952: numcodecs GZip, zarr v3 gzip) through libdeflate.
#include <memory>
#include <string>

#include "codecs/deflate_framing.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kMinStream = 18;  // 10-byte header, empty deflate block, 8-byte trailer

const DeflateFraming kGzip = {"gzip", libdeflate_gzip_decompress, libdeflate_gzip_compress_bound,
                              libdeflate_gzip_compress};

class GzipCodec final : public DeflateCodec {
 public:
  explicit GzipCodec(DeflateSettings settings) : DeflateCodec(kGzip, settings) {}

 protected:
  // The trailer's ISIZE holds the decoded size modulo 2^32 only, so it checks
  // a size but never tells one.
  void check_stream(ByteView in, size_t size) const override {
    if (in.size < kMinStream) return;
    const uint8_t* p = in.data + in.size - 4;
    const uint32_t isize =
        uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
    if (isize != uint32_t(size))
      throw_decode("gzip: trailer announces " + std::to_string(isize) +
                   " decoded bytes (modulo 2^32), expected " + std::to_string(size));
  }
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  return std::make_unique<GzipCodec>(read_settings<DeflateSettings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kGzipCodec = {"gzip", CodecKind::kBytesToBytes,
                                           kNumcodecsId | kZarrV3Name, "level", make};

}  // namespace fastchunk
