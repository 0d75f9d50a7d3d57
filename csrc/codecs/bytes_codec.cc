// Byte order: the zarr v3 `bytes` codec's `endian`, and the byte order of a
// zarr v2 dtype. Decoding turns stored order into this machine's order.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "codecs/config_binder.h"
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

// The configuration: `endian`, absent for one-byte items.
struct BytesSettings {
  std::string endian;
  void bind(ConfigBinder& b) {
    if (b.reading() ? b.source().has("endian") : !endian.empty())
      b.text("endian", endian, {"little", "big"});
  }
};

class BytesCodec final : public ArrayToBytesCodec, InPlaceDecoding {
 public:
  BytesCodec(BytesSettings settings, int unit) : settings_(std::move(settings)), unit_(unit) {
    abilities_.identity = unit_ <= 1;
    abilities_.element_alignment = size_t(std::max(unit_, 1));
    abilities_.in_place = this;
  }

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
    return write_settings(settings_, zarr_format);
  }

 private:
  BytesSettings settings_;
  int unit_;  // bytes per swapped word; 0 when stored order is this machine's
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  BytesSettings s = read_settings<BytesSettings>(config, context.zarr_format);
  const char stored = s.endian == "big" ? '>' : '<';
  const int unit = s.endian.empty() || stored == native_byteorder() ? 0 : context.element.swap_unit();
  return std::make_unique<BytesCodec>(std::move(s), unit);
}

}  // namespace

extern const CodecDefinition kBytesCodec = {"bytes", CodecKind::kArrayToBytes, kZarrV3Name, "",
                                            make};

}  // namespace fastchunk
