// The one table of the codecs the core implements, by name. Each codec's file
// defines its CodecDefinition; registry.cc lists them, one line each. The
// Python layer reads the table (fastchunk._core.codecs()) to know which
// codecs of a zarr chain the core decodes.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "codecs/codec.h"

namespace fastchunk {

// Which metadata names a codec answers to (bit flags).
enum CodecNames : unsigned {
  kNumcodecsId = 1,  // a numcodecs id: a zarr v2 compressor or filter id, and "numcodecs.<id>" in v3
  kZarrV3Name = 2,   // a codec name of the zarr v3 specification
};

struct CodecDefinition {
  const char* name;
  CodecKind kind;
  unsigned names;  // CodecNames
  // The configuration keys `fastchunk rechunk --codec NAME:V1:V2...` sets, in
  // that order, separated by ':' ("" when it takes none).
  const char* positional_keys;
  std::unique_ptr<Codec> (*make)(const CodecConfig& config, const CodecContext& context);
};

const std::vector<const CodecDefinition*>& registered_codecs();

// The definition named `name`, or nullptr.
const CodecDefinition* find_codec(const std::string& name);

// Builds a codec; throws kUnsupported for an unknown name or a configuration
// the core does not implement (the numcodecs fallback then decodes it) and
// kMetadata for an invalid one, the message naming the codec.
std::shared_ptr<const Codec> make_codec(const std::string& name, const CodecConfig& config,
                                        const CodecContext& context);

const char* codec_kind_name(CodecKind kind);

}  // namespace fastchunk
