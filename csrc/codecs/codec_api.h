// The Cython-facing surface of the codecs: the registry, chains, and single
// codecs' configurations. Nothing is thrown across it.
#pragma once
#include <string>
#include <vector>

#include "api/guarded.h"
#include "codecs/chain.h"

namespace fastchunk {

// One row of the registry as Python reads it.
struct CodecListing {
  std::string name;
  std::string kind;  // array_to_array, array_to_bytes, bytes_to_bytes
  bool numcodecs_id = false;
  bool zarr_v3_name = false;
  bool fixed_size = false;  // its encoded size follows from the decoded one: not a compressor
  std::vector<std::string> positional_keys;
};

std::vector<CodecListing> api_codec_listing();

ErrorInfo api_build_chain(const std::vector<CodecStep>& steps, const std::string& dtype,
                          int zarr_format, ChainSpec* chain);
ErrorInfo api_encode_chunk(const ChainSpec& chain, const uint8_t* data, size_t size,
                           std::string* out);
// The size the outermost codec of `chain` says `data` decodes to (fixed or
// announced); *known false when it does not say.
ErrorInfo api_outer_decoded_size(const ChainSpec& chain, const uint8_t* data, size_t size,
                                 bool* known, uint64_t* decoded);
ErrorInfo api_chain_encoded_size(const ChainSpec& chain, size_t decoded, bool* known,
                                 uint64_t* size);
// The configuration a codec writes into zarr_format metadata, checked for encoding.
ErrorInfo api_codec_configuration(const CodecStep& step, const std::string& dtype,
                                  int zarr_format, CodecConfig* out);

}  // namespace fastchunk
