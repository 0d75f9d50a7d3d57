// One codec as the core runs it. A codec is built by the registry
// (codecs/registry.h) from its name and its zarr/numcodecs configuration, and
// lives in one file, csrc/codecs/<name>_codec.cc, with its decoder, its
// encoder, partial decoding where the format allows it, and what it knows of
// its own sizes. Chains of codecs are run by codecs/chain.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "codecs/codec_config.h"
#include "codecs/element_type.h"
#include "common/buffer.h"

namespace fastchunk {

// A size neither the format nor the stream's header tells.
constexpr int64_t kUnknownSize = -1;

// What the metadata around a codec tells it when it is built.
struct CodecContext {
  ElementType element;  // the items on the codec's decoded side
  int zarr_format = 3;  // 2 or 3: some defaults differ between the formats
};

// Byte ranges [first, second) of a decoded stream.
using ByteRanges = std::vector<std::pair<size_t, size_t>>;

// One piece of a decode split over threads: it reads `in` (a part of the
// stream or all of it) and writes decoded bytes [out_begin, out_end).
struct DecodePiece {
  size_t in_begin = 0, in_end = 0;
  size_t out_begin = 0, out_end = 0;
};

// The bytes of a decoded chunk a selection reads, for partial decoding.
struct NeededBytes {
  std::vector<int64_t> starts;  // offsets of equally long runs, any order, maybe repeated
  int64_t run = 0;              // bytes per run
  size_t end = 0;               // one past the last needed byte
  size_t align = 1;             // written ranges must start and end at multiples of this
                                // (or at the end of the stream)
};

class Codec {
 public:
  virtual ~Codec() = default;

  // Decodes `in` into exactly out_size bytes at `out` (which may be `in`'s
  // memory only for codecs that decode in place); throws a decode Error when
  // the stream is corrupt or does not decode to exactly out_size bytes.
  virtual void decode(ByteView in, uint8_t* out, size_t out_size) const = 0;

  // Appends the encoding of `in` to `out`; throws kUnsupported when this
  // configuration cannot be encoded.
  virtual void encode(ByteView in, std::string* out) const = 0;

  // The configuration to write into zarr_format 2 or 3 metadata for this
  // codec, defaults filled in; throws kUnsupported when the codec cannot
  // encode with it (fastchunk rechunk writes what it encodes).
  virtual CodecConfig configuration(int zarr_format) const = 0;

  // The size `in` decodes to, when the format fixes it (filters, checksums)
  // or the stream's header announces it exactly; kUnknownSize otherwise.
  // Throws a decode Error when `in` cannot be a stream of this codec.
  virtual int64_t decoded_size(ByteView in) const { return kUnknownSize; }

  // The encoded size of `decoded` bytes when the format fixes it (filters,
  // checksums); kUnknownSize for compressors.
  virtual int64_t encoded_size(size_t decoded) const { return kUnknownSize; }

  // The most bytes `stored` bytes of this codec can decode to, from the best
  // ratio the format allows.
  virtual uint64_t most_decoded_bytes(size_t stored) const { return UINT64_MAX; }

  // Rejects `in` when its header or the format's best ratio rule out that it
  // decodes to `size` bytes: the hostile-header check, before anything is
  // allocated for the output.
  virtual void check_decoded_size(ByteView in, size_t size) const;

  // A checksum appended to the stream (crc32c): decoding verifies and drops
  // it, so the decoded bytes are a prefix of the stored ones and need no copy.
  virtual bool is_trailer_checksum() const { return false; }
  // Verifies the trailer and returns the bytes before it.
  virtual ByteView strip_trailer(ByteView in) const;

  // Decoding rewrites the bytes where they are, without changing the size.
  virtual bool decodes_in_place() const { return false; }
  // Decoding acts on each `element_alignment()`-byte item by itself (byte
  // order), so any aligned part of a stream decodes alone.
  virtual bool decodes_elementwise() const { return false; }
  virtual size_t element_alignment() const { return 1; }
  // Decodes `size` bytes at `data` in place; only when decodes_in_place().
  virtual void decode_in_place(uint8_t* data, size_t size) const;

  // Nothing to do (little-endian bytes on a little-endian host): left out of chains.
  virtual bool is_identity() const { return false; }

  // The items on the encoded side, given those on the decoded side.
  virtual ElementType encoded_element(const ElementType& decoded) const { return decoded; }

  // Splitting one decode over threads, where the stream is made of parts
  // that decode independently (blosc blocks, concatenated zstd frames):
  // fills `pieces` (at most `most`, each writing a range that starts and ends
  // at a multiple of `align` or the end) and returns true, or returns false
  // when the stream does not split (decode it whole then). Throws a decode
  // Error when the stream cannot decode to out_size bytes.
  virtual bool split(ByteView in, size_t out_size, size_t most, size_t align,
                     std::vector<DecodePiece>* pieces) const {
    return false;
  }
  // Decodes one piece from split() into out (the whole decoded stream's
  // buffer); safe to call for different pieces on different threads at once.
  virtual void decode_piece(ByteView in, const DecodePiece& piece, uint8_t* out,
                            size_t out_size) const {}

  // Partial decoding, where the format allows it (blosc blocks, a zstd
  // prefix). Returns false, having done nothing, when it would not save
  // enough over a whole decode or the stream does not allow it. Otherwise
  // calls `before_decoding` (which verifies the checksums around the stream),
  // writes at least the needed bytes of the out_size-byte decoded stream into
  // `out`, lists in `written` the disjoint aligned ranges it wrote, and
  // returns true -- or false after before_decoding when the stream turns out
  // not to allow it after all (the caller then decodes the whole stream).
  virtual bool decode_part(ByteView in, const NeededBytes& needed, uint8_t* out,
                           size_t out_size, const std::function<void()>& before_decoding,
                           ByteRanges* written) const {
    return false;
  }
};

}  // namespace fastchunk
