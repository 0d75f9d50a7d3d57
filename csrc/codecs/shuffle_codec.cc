// numcodecs Shuffle: the i-th byte of every element together, element size
// `elementsize`: encoded[j * count + i] = decoded[i * elementsize + j].
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "codecs/byte_planes.h"
#include "codecs/config_binder.h"
#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {
namespace {

struct ShuffleSettings {
  int64_t elementsize = 4;
  void bind(ConfigBinder& b) { b.integer("elementsize", elementsize, 0, int64_t(1) << 30); }
};

class ShuffleCodec final : public BytesToBytesCodec {
 public:
  explicit ShuffleCodec(int64_t elementsize) : BytesToBytesCodec(0), elementsize_(elementsize) {
    abilities_.identity = elementsize_ <= 1;
  }

  void decode(ByteView in, uint8_t* out, size_t out_size) const override {
    if (in.size != out_size)
      throw_decode("shuffle: chunk holds " + std::to_string(in.size) + " bytes, expected " +
                   std::to_string(out_size));
    run(in, out, false);
  }

  void encode(ByteView in, std::string* out) const override {
    const size_t start = out->size();
    out->resize(start + in.size);
    run(in, reinterpret_cast<uint8_t*>(&(*out)[start]), true);
  }

  CodecConfig configuration(int zarr_format) const override {
    return write_settings(ShuffleSettings{elementsize_}, zarr_format);
  }

 private:
  void run(ByteView in, uint8_t* out, bool to_planes) const {
    if (elementsize_ <= 1) {
      if (in.size) std::memcpy(out, in.data, in.size);
      return;
    }
    const size_t es = size_t(elementsize_);
    if (in.size % es)
      throw_decode("shuffle: " + std::to_string(in.size) + " bytes are not whole " +
                   std::to_string(es) + "-byte elements");
    if (to_planes)
      to_byte_planes(in.data, out, in.size / es, es);
    else
      from_byte_planes(in.data, out, in.size / es, es);
  }

  int64_t elementsize_;
};

std::unique_ptr<Codec> make(const CodecConfig& config, const CodecContext& context) {
  // numcodecs defaults to 4; zarr-python's v3 numcodecs.shuffle to the item size.
  ShuffleSettings s;
  if (context.zarr_format != 2) s.elementsize = context.element.size;
  ConfigBinder b = ConfigBinder::reader(config, context.zarr_format);
  s.bind(b);
  return std::make_unique<ShuffleCodec>(s.elementsize);
}

}  // namespace

extern const CodecDefinition kShuffleCodec = {"shuffle", CodecKind::kBytesToBytes, kNumcodecsId,
                                              "elementsize", make};

}  // namespace fastchunk
