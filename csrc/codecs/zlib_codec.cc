// zlib streams (RFC 1950: numcodecs Zlib) through libdeflate.
#include <memory>

#include "codecs/deflate_framing.h"
#include "codecs/registry.h"

namespace fastchunk {
namespace {

const DeflateFraming kZlib = {"zlib", libdeflate_zlib_decompress, libdeflate_zlib_compress_bound,
                              libdeflate_zlib_compress};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  return std::make_unique<DeflateCodec>(kZlib,
                                        read_settings<DeflateSettings>(config, context.zarr_format));
}

}  // namespace

extern const CodecDefinition kZlibCodec = {"zlib", CodecKind::kBytesToBytes, kNumcodecsId,
                                           "level", make};

}  // namespace fastchunk
