#include "codecs/registry.h"

#include "common/error.h"

namespace fastchunk {

// The registered codecs, one line each; k<Name>Codec is defined in codecs/<name>_codec.cc.
#define FASTCHUNK_CODECS(X) \
  X(kBytesCodec)            \
  X(kCrc32cCodec)           \
  X(kBloscCodec)            \
  X(kZstdCodec)             \
  X(kGzipCodec)             \
  X(kZlibCodec)             \
  X(kLz4Codec)              \
  X(kBz2Codec)              \
  X(kLzmaCodec)             \
  X(kShuffleCodec)          \
  X(kDeltaCodec)

#define FASTCHUNK_DECLARE_CODEC(def) extern const CodecDefinition def;
FASTCHUNK_CODECS(FASTCHUNK_DECLARE_CODEC)
#undef FASTCHUNK_DECLARE_CODEC

const std::vector<const CodecDefinition*>& registered_codecs() {
#define FASTCHUNK_LIST_CODEC(def) &def,
  static const std::vector<const CodecDefinition*> all = {FASTCHUNK_CODECS(FASTCHUNK_LIST_CODEC)};
#undef FASTCHUNK_LIST_CODEC
  return all;
}

const CodecDefinition* find_codec(const std::string& name) {
  for (const CodecDefinition* def : registered_codecs())
    if (name == def->name) return def;
  return nullptr;
}

std::shared_ptr<const Codec> make_codec(const std::string& name, const CodecConfig& config,
                                        const CodecContext& context) {
  const CodecDefinition* def = find_codec(name);
  if (!def) throw Error(ErrorKind::kUnsupported, "codec '" + name + "' is not built into the core");
  std::shared_ptr<const Codec> codec;
  try {
    codec = def->make(config, context);
  } catch (const Error& e) {
    throw e.in("codec '" + name + "': ");
  }
  if (codec->kind() != def->kind)
    throw Error(ErrorKind::kInternal, "codec '" + name + "' is not of the kind it is registered as");
  return codec;
}

const char* codec_kind_name(CodecKind kind) {
  switch (kind) {
    case CodecKind::kArrayToArray: return "array_to_array";
    case CodecKind::kArrayToBytes: return "array_to_bytes";
    case CodecKind::kBytesToBytes: return "bytes_to_bytes";
  }
  return "?";
}

}  // namespace fastchunk
