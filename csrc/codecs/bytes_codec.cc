// Byte order: the zarr v3 `bytes` codec's `endian`, and the byte order of a
// zarr v2 dtype. Decoding turns stored order into this machine's order.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

void swap_words(uint8_t* data, size_t size, int unit) {
  switch (unit) {
    case 2:
      for (size_t i = 0; i + 2 <= size; i += 2) std::swap(data[i], data[i + 1]);
      return;
    case 4:
      for (size_t i = 0; i + 4 <= size; i += 4) {
        uint32_t v;
        std::memcpy(&v, data + i, 4);
        v = __builtin_bswap32(v);
        std::memcpy(data + i, &v, 4);
      }
      return;
    case 8:
      for (size_t i = 0; i + 8 <= size; i += 8) {
        uint64_t v;
        std::memcpy(&v, data + i, 8);
        v = __builtin_bswap64(v);
        std::memcpy(data + i, &v, 8);
      }
      return;
    default:
      for (size_t i = 0; i + unit <= size; i += unit) std::reverse(data + i, data + i + unit);
  }
}

class BytesCodec final : public Codec {
 public:
  BytesCodec(std::string endian, int unit) : endian_(std::move(endian)), unit_(unit) {}

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    if (in.size != out_size)
      throw_decode("raw chunk holds " + std::to_string(in.size) + " bytes, expected " +
                   std::to_string(out_size));
    if (out_size && in.data != out) std::memmove(out, in.data, out_size);
    decode_in_place(out, out_size);
  }
  void decode_in_place(uint8_t* data, size_t size) const override {
    if (unit_ > 1) swap_words(data, size, unit_);
  }
  void encode(ByteView in, std::string* out) const override {
    const size_t start = out->size();
    out->append(reinterpret_cast<const char*>(in.data), in.size);
    if (unit_ > 1) swap_words(reinterpret_cast<uint8_t*>(&(*out)[start]), in.size, unit_);
  }
  CodecConfig configuration(int zarr_format) const override {
    if (zarr_format != 3)
      throw Error(ErrorKind::kUnsupported, "bytes is a zarr v3 codec (v2 puts the byte order in the dtype)");
    CodecConfig c;
    if (!endian_.empty()) c.set_string("endian", endian_);
    return c;
  }
  int64_t decoded_size(ByteView in) const override { return int64_t(in.size); }
  int64_t encoded_size(size_t decoded) const override { return int64_t(decoded); }
  bool decodes_in_place() const override { return true; }
  bool decodes_elementwise() const override { return true; }
  size_t element_alignment() const override { return size_t(std::max(unit_, 1)); }
  bool is_identity() const override { return unit_ <= 1; }

 private:
  std::string endian_;  // as configured: "little", "big" or "" (one-byte items)
  int unit_;            // bytes per swapped word; 0 when stored order is this machine's
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  const std::string endian = config.get_string("endian", "");
  if (!endian.empty() && endian != "little" && endian != "big")
    throw Error(ErrorKind::kMetadata, "endian must be \"little\" or \"big\", got \"" + endian + "\"");
  const char stored = endian == "big" ? '>' : '<';
  const int unit = endian.empty() || stored == native_byteorder() ? 0 : context.element.swap_unit();
  return std::make_unique<BytesCodec>(endian, unit);
}

}  // namespace

extern const CodecDefinition kBytesCodec = {"bytes", CodecKind::kArrayToBytes, kZarrV3Name, "",
                                            make};

}  // namespace fastchunk
