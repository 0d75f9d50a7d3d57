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
      row.fixed_size = codec->encoded_size(64).has_value();
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

namespace {

void put(const KnownSize& value, bool* known, uint64_t* out) {
  *known = value.has_value();
  *out = value.value_or(0);
}

}  // namespace

ErrorInfo api_outer_decoded_size(const ChainSpec& chain, const uint8_t* data, size_t size,
                                 bool* known, uint64_t* decoded) {
  return guarded([&] {
    put(chain.codecs.empty() ? KnownSize(size)
                             : chain.codecs.back()->decoded_size(ByteView{data, size}),
        known, decoded);
  });
}

ErrorInfo api_chain_encoded_size(const ChainSpec& chain, size_t decoded, bool* known,
                                 uint64_t* size) {
  return guarded([&] { put(encoded_size(chain, decoded), known, size); });
}

ErrorInfo api_codec_configuration(const CodecStep& step, const std::string& dtype,
                                  int zarr_format, CodecConfig* out) {
  return guarded([&] {
    const CodecContext context{ElementType::parse(dtype), zarr_format};
    *out = make_codec(step.name, step.config, context)->configuration(zarr_format);
  });
}

}  // namespace fastchunk
