// zarr v3 crc32c: the bytes followed by their 4-byte little-endian CRC-32C.
#include <cstring>
#include <memory>
#include <string>

#include "codecs/crc32c.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

constexpr size_t kTrailer = 4;

uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}

class Crc32cCodec final : public BytesToBytesCodec, TrailerChecksum {
 public:
  Crc32cCodec() : BytesToBytesCodec(kTrailer) { abilities_.trailer = this; }

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    const ByteView body = strip_trailer(in);
    if (body.size != out_size)
      throw_decode("crc32c: chunk holds " + std::to_string(body.size) + " bytes, expected " +
                   std::to_string(out_size));
    if (out_size) std::memmove(out, body.data, out_size);
  }
  void encode(ByteView in, std::string* out) const override {
    out->append(reinterpret_cast<const char*>(in.data), in.size);
    const uint32_t crc = crc32c(in.data, in.size);
    const char bytes[4] = {char(crc & 0xff), char((crc >> 8) & 0xff), char((crc >> 16) & 0xff),
                           char((crc >> 24) & 0xff)};
    out->append(bytes, 4);
  }
  CodecConfig configuration(int zarr_format) const override {
    if (zarr_format != 3)
      throw Error(ErrorKind::kUnsupported, "crc32c (trailing checksum) is a zarr v3 codec");
    return CodecConfig();
  }
  KnownSize decoded_size(ByteView in) const override {
    if (in.size < kTrailer) throw_decode("crc32c: chunk shorter than its 4-byte checksum");
    return in.size - kTrailer;
  }
  ByteView strip_trailer(ByteView in) const override {
    const size_t n = size_t(*decoded_size(in));
    if (load_le32(in.data + n) != crc32c(in.data, n)) throw_decode("crc32c checksum mismatch");
    return ByteView{in.data, n};
  }
};

std::unique_ptr<Codec> make(const CodecConfig&, const CodecContext&) {
  return std::make_unique<Crc32cCodec>();
}

}  // namespace

extern const CodecDefinition kCrc32cCodec = {"crc32c", CodecKind::kBytesToBytes, kZarrV3Name, "",
                                             make};

}  // namespace fastchunk
