// One codec as the core runs it. A codec is built by the registry
// (codecs/registry.h) from its name and its zarr/numcodecs configuration
// (read and written by one binder per codec: codecs/config_binder.h), and
// lives in one file, csrc/codecs/<name>_codec.cc, with its decoder, its
// encoder and what it knows of its own sizes. Chains of codecs are run by
// codecs/chain.h.
//
// Each kind of zarr v3 codec has its own base class: ArrayToArrayCodec
// (items to items), ArrayToBytesCodec (items to their stored bytes) and
// BytesToBytesCodec (compressors, checksums, byte shuffles). What a codec can
// do beyond decoding a whole stream is a value, CodecAbilities, fixed when it
// is built: an interface of its own per ability (decoding in place, a
// trailing checksum, a decode split over threads, partial decoding), null
// where the codec has none. Sizes are values too: KnownSize, nullopt where
// neither the format nor the stream tells.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codecs/codec_config.h"
#include "codecs/element_type.h"
#include "common/buffer.h"

namespace fastchunk {

// Where a codec sits in a zarr v3 chain.
enum class CodecKind { kArrayToArray, kArrayToBytes, kBytesToBytes };

// A size a codec knows: fixed by its format (filters, checksums) or announced
// exactly by the stream's header; nullopt where neither tells.
using KnownSize = std::optional<uint64_t>;

// Partial decoding pays off only when it skips a good share of the chunk:
// a part that needs at least this fraction of it is decoded whole instead.
constexpr double kWorthwhileFraction = 0.6;

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

// Decoding rewrites the bytes where they are, without changing their size.
class InPlaceDecoding {
 public:
  virtual ~InPlaceDecoding() = default;
  virtual void decode_in_place(uint8_t* data, size_t size) const = 0;
};

// A checksum appended to the stream (crc32c): decoding verifies and drops
// it, so the decoded bytes are a prefix of the stored ones and need no copy.
class TrailerChecksum {
 public:
  virtual ~TrailerChecksum() = default;
  // Verifies the trailer and returns the bytes before it.
  virtual ByteView strip_trailer(ByteView in) const = 0;
};

// One decode split over threads, where the stream is made of parts that
// decode independently (blosc blocks, concatenated zstd frames).
class SplitDecoding {
 public:
  virtual ~SplitDecoding() = default;
  // Fills `pieces` (at most `most`, each writing a range that starts and ends
  // at a multiple of `align` or the end) and returns true, or returns false
  // when the stream does not split (decode it whole then). Throws a decode
  // Error when the stream cannot decode to out_size bytes.
  virtual bool split(ByteView in, size_t out_size, size_t most, size_t align,
                     std::vector<DecodePiece>* pieces) const = 0;
  // Decodes one piece into out (the whole decoded stream's buffer); safe to
  // call for different pieces on different threads at once.
  virtual void decode_piece(ByteView in, const DecodePiece& piece, uint8_t* out,
                            size_t out_size) const = 0;
};

// Decoding only the part of a stream a selection needs (blosc blocks, a
// zstd prefix).
class PartialDecoding {
 public:
  virtual ~PartialDecoding() = default;
  // Returns false, having done nothing, when it would not save enough over a
  // whole decode (kWorthwhileFraction) or the stream does not allow it.
  // Otherwise calls `before_decoding` (which verifies the checksums around
  // the stream), writes at least the needed bytes of the out_size-byte
  // decoded stream into `out`, lists in `written` the disjoint aligned ranges
  // it wrote, and returns true -- or false after before_decoding when the
  // stream turns out not to allow it after all (decode it whole then).
  virtual bool decode_part(ByteView in, const NeededBytes& needed, uint8_t* out,
                           size_t out_size, const std::function<void()>& before_decoding,
                           ByteRanges* written) const = 0;
};

// What a codec can do beyond decoding a whole stream, fixed when it is built.
struct CodecAbilities {
  // Nothing to do (little-endian items on a little-endian host): left out of chains.
  bool identity = false;
  // > 0: decoding acts on each item of this many bytes by itself (byte
  // order), so any aligned part of a stream decodes alone.
  size_t element_alignment = 0;
  const InPlaceDecoding* in_place = nullptr;
  const TrailerChecksum* trailer = nullptr;
  const SplitDecoding* split = nullptr;
  const PartialDecoding* partial = nullptr;
};

class Codec {
 public:
  virtual ~Codec() = default;
  Codec(const Codec&) = delete;
  Codec& operator=(const Codec&) = delete;

  CodecKind kind() const { return kind_; }
  const CodecAbilities& abilities() const { return abilities_; }

  // Decodes `in` into exactly out_size bytes at `out` (which may be `in`'s
  // memory only for codecs that decode in place); throws a decode Error when
  // the stream is corrupt or does not decode to exactly out_size bytes.
  virtual void decode(ByteView in, uint8_t* out, size_t out_size) const = 0;

  // Appends the encoding of `in` to `out`.
  virtual void encode(ByteView in, std::string* out) const = 0;

  // The configuration to write into zarr_format 2 or 3 metadata for this
  // codec, defaults filled in; throws kUnsupported when the codec has no
  // place in that format.
  virtual CodecConfig configuration(int zarr_format) const = 0;

  // The size `in` decodes to. Throws a decode Error when `in` cannot be a
  // stream of this codec.
  virtual KnownSize decoded_size(ByteView in) const = 0;
  // The stored size of `decoded` bytes.
  virtual KnownSize encoded_size(size_t decoded) const = 0;
  // The most bytes `stored` bytes can decode to, from the best ratio the
  // format allows; nullopt when it sets none.
  virtual KnownSize most_decoded_bytes(size_t stored) const = 0;
  // The items on the encoded side, given those on the decoded side.
  virtual ElementType encoded_element(const ElementType& decoded) const { return decoded; }

  // Rejects `in` when its header or the format's best ratio rule out that it
  // decodes to `size` bytes: the hostile-header check, before anything is
  // allocated for the output.
  void check_decoded_size(ByteView in, size_t size) const;

 protected:
  explicit Codec(CodecKind kind) : kind_(kind) {}
  // What the format tells of a stream's decoded size without fixing it (the
  // gzip trailer's size modulo 2^32): throws a decode Error when it rules
  // out `size`.
  virtual void check_stream(ByteView in, size_t size) const {}

  CodecAbilities abilities_;  // set by each codec's constructor

 private:
  CodecKind kind_;
};

// array -> array: items to items, maybe of another type (numcodecs delta).
// Sizes follow from the two item sizes.
class ArrayToArrayCodec : public Codec {
 public:
  KnownSize decoded_size(ByteView in) const final;
  KnownSize encoded_size(size_t decoded) const final;
  KnownSize most_decoded_bytes(size_t stored) const final;
  ElementType encoded_element(const ElementType&) const final { return encoded_; }

 protected:
  ArrayToArrayCodec(ElementType decoded, ElementType encoded)
      : Codec(CodecKind::kArrayToArray), decoded_(decoded), encoded_(encoded) {}
  const ElementType decoded_, encoded_;
};

// array -> bytes: items to their stored bytes (byte order): the same size.
class ArrayToBytesCodec : public Codec {
 public:
  KnownSize decoded_size(ByteView in) const final { return in.size; }
  KnownSize encoded_size(size_t decoded) const final { return decoded; }
  KnownSize most_decoded_bytes(size_t stored) const final { return stored; }

 protected:
  ArrayToBytesCodec() : Codec(CodecKind::kArrayToBytes) {}
};

// bytes -> bytes: compressors (sizes from their headers, bounded by their
// best ratio) and codecs of a fixed overhead (checksums, byte shuffles).
class BytesToBytesCodec : public Codec {
 public:
  KnownSize decoded_size(ByteView in) const override;
  KnownSize encoded_size(size_t decoded) const final;
  KnownSize most_decoded_bytes(size_t stored) const override;

 protected:
  // `overhead`: the bytes a stream adds to what it decodes to, where the
  // format fixes it (crc32c 4, shuffle 0); nullopt for compressors, which
  // override decoded_size (their header) and most_decoded_bytes (their ratio).
  explicit BytesToBytesCodec(KnownSize overhead)
      : Codec(CodecKind::kBytesToBytes), overhead_(overhead) {}
  const KnownSize overhead_;
};

}  // namespace fastchunk
