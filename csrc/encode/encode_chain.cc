#include "encode/encode_chain.h"

#include <string>
#include <utility>

#include "codecs/byte_codecs.h"
#include "codecs/chain.h"
#include "common/error.h"
#include "encode/byte_encoders.h"

namespace fastchunk {

void encode_chunk(const EncodeChain& chain, uint8_t* data, size_t size, std::string* out) {
  if (chain.swap_unit > 1) swap_bytes_inplace(data, size, chain.swap_unit);
  if (chain.steps.empty()) {
    out->assign(reinterpret_cast<const char*>(data), size);
    return;
  }
  std::string current;
  std::string next;
  ByteView view{data, size};
  for (size_t i = 0; i < chain.steps.size(); ++i) {
    const EncodeStep& s = chain.steps[i];
    next.clear();
    switch (static_cast<ByteCodecId>(s.codec)) {
      case ByteCodecId::kZstd:
        encode_impl::zstd_encode(view, s.level, &next);
        break;
      case ByteCodecId::kBlosc:
        encode_impl::blosc_encode(view, s.cname, s.level, s.shuffle, chain.typesize, s.blocksize,
                                  &next);
        break;
      case ByteCodecId::kGzip:
        encode_impl::gzip_encode(view, s.level, &next);
        break;
      case ByteCodecId::kZlib:
        encode_impl::zlib_encode(view, s.level, &next);
        break;
      case ByteCodecId::kLz4:
        encode_impl::lz4_encode(view, s.level, &next);
        break;
      case ByteCodecId::kCrc32c:
        encode_impl::crc32c_append(view, &next);
        break;
      default:
        throw Error(ErrorKind::kUnsupported, "encode: unknown codec id " + std::to_string(s.codec));
    }
    std::swap(current, next);
    view = ByteView{reinterpret_cast<const uint8_t*>(current.data()), current.size()};
  }
  *out = std::move(current);
}

}  // namespace fastchunk
