// A chunk's codec chain as the core runs it: registered codecs (byte order
// included, as the zarr v3 `bytes` codec) in encode order, decoded last to
// first. Axis permutations (v2 order "F", v3 `transpose`) are not applied
// here: the copy reads the decoded chunk through permuted strides instead
// (see plan/region_copy.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codecs/codec.h"
#include "common/buffer.h"

namespace fastchunk {

// One codec of a chain as the metadata names it: a registered name and its configuration.
struct CodecStep {
  std::string name;
  CodecConfig config;
};

struct ChainSpec {
  std::vector<std::shared_ptr<const Codec>> codecs;  // encode order; decoded last to first
};

// Builds a chain from its steps in encode order. `dtype` is the numpy type
// string of the array's items (what the first codec's decoded side holds);
// each codec tells the next what its encoded side holds. Codecs with nothing
// to do are left out. Throws as make_codec() does.
ChainSpec build_chain(const std::vector<CodecStep>& steps, const std::string& dtype,
                      int zarr_format);

// Decodes one stored chunk into exactly out_size bytes at out.
void decode_chunk(const ChainSpec& chain, ByteView encoded, uint8_t* out, size_t out_size);

// One decode cut into pieces that may run on different threads at once:
// the chain is one codec whose stream splits into independent parts (blosc
// blocks, several zstd frames), inside checksums, around codecs that act on
// each item (byte order).
struct SplitDecode {
  const ChainSpec* chain = nullptr;
  ByteView body;      // the stream, its checksums verified and stripped
  size_t codec = 0;   // the splitting codec's place in the chain
  size_t out_size = 0;
  std::vector<DecodePiece> pieces;
};

// Plans a decode of `encoded` into out_size bytes in at most `most` pieces;
// false (decode_chunk it then) when the chain or the stream does not split
// or one piece would do.
bool split_decode(const ChainSpec& chain, ByteView encoded, size_t out_size, size_t most,
                  SplitDecode* plan);
// Decodes piece i of the plan into out (the whole chunk's buffer).
void decode_piece(const SplitDecode& plan, size_t i, uint8_t* out);

// Rejects a chunk that cannot decode to out_size bytes, before anything is
// allocated for it: a stored size other than the one a chain of filters and
// checksums makes, or an outermost codec whose header announces another size
// or that is too short to reach out_size at its format's best ratio.
void check_announced_size(const ChainSpec& chain, ByteView encoded, size_t out_size);

// Decodes at least the bytes `needed` names of the out_size-byte decoded chunk
// into out, when the chain allows it (one codec with partial decoding inside
// checksums, around byte order) and it saves enough; false otherwise, having
// written nothing useful (decode the whole chunk then).
bool decode_chunk_part(const ChainSpec& chain, ByteView encoded, NeededBytes needed,
                       uint8_t* out, size_t out_size);

// Encodes one chunk (native order, C layout) into `out` (replaced).
void encode_chunk(const ChainSpec& chain, ByteView data, std::string* out);

// The stored size of `decoded` bytes when every codec of the chain fixes it
// (byte order, filters, checksums: a shard index); nullopt otherwise.
KnownSize encoded_size(const ChainSpec& chain, size_t decoded);

}  // namespace fastchunk
