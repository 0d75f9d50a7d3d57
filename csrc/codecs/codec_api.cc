#include "codecs/codec_api.h"

#include "codecs/registry.h"
#include "common/error.h"

namespace fastchunk {

std::vector<CodecListing> api_codec_listing() {
  std::vector<CodecListing> out;
  for (const CodecDefinition* def : registered_codecs()) {
    CodecListing row;
    row.name = def->name;
    row.kind = codec_kind_name(def->kind);
    row.numcodecs_id = def->names & kNumcodecsId;
    row.zarr_v3_name = def->names & kZarrV3Name;
    try {  // with its default configuration
      const auto codec = def->make(CodecConfig(), CodecContext{ElementType::parse("<f8"), 3});
      row.fixed_size = codec->encoded_size(64) != kUnknownSize;
    } catch (const Error&) {  // a configuration is required (delta's dtype): a filter
      row.fixed_size = def->kind != CodecKind::kBytesToBytes;
    }
    std::string key;
    for (const char* p = def->positional_keys;; ++p) {
      if (*p == ':' || *p == '\0') {
        if (!key.empty()) row.positional_keys.push_back(key);
        key.clear();
        if (*p == '\0') break;
      } else {
        key.push_back(*p);
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

ErrorInfo api_build_chain(const std::vector<CodecStep>& steps, const std::string& dtype,
                          int zarr_format, ChainSpec* chain) {
  return guarded([&] { *chain = build_chain(steps, dtype, zarr_format); });
}

ErrorInfo api_encode_chunk(const ChainSpec& chain, const uint8_t* data, size_t size,
                           std::string* out) {
  return guarded([&] { encode_chunk(chain, ByteView{data, size}, out); });
}

ErrorInfo api_outer_decoded_size(const ChainSpec& chain, const uint8_t* data, size_t size,
                                 int64_t* decoded) {
  return guarded([&] {
    *decoded = chain.codecs.empty() ? int64_t(size)
                                    : chain.codecs.back()->decoded_size(ByteView{data, size});
  });
}

ErrorInfo api_chain_encoded_size(const ChainSpec& chain, size_t decoded, int64_t* size) {
  return guarded([&] { *size = encoded_size(chain, decoded); });
}

ErrorInfo api_codec_configuration(const CodecStep& step, const std::string& dtype,
                                  int zarr_format, CodecConfig* out) {
  return guarded([&] {
    const CodecContext context{ElementType::parse(dtype), zarr_format};
    *out = make_codec(step.name, step.config, context)->configuration(zarr_format);
  });
}

}  // namespace fastchunk
