// What the gzip and zlib codecs share (one library, two framings): per-thread
// libdeflate contexts, and the codec itself, given its framing's functions.
#pragma once
#include <libdeflate.h>

#include <string>

#include "codecs/codec.h"

namespace fastchunk {

libdeflate_decompressor* thread_deflate_decompressor();
// Levels 0..12; throws kUnsupported outside them.
libdeflate_compressor* thread_deflate_compressor(int level);
// Turns a libdeflate result into a decode Error unless it decoded exactly `expected` bytes.
void check_inflated(libdeflate_result r, size_t got, size_t expected, const char* what);
// 1032:1 is deflate's best ratio (a 258-byte match in 2 bits), plus room for headers.
inline uint64_t most_inflated_bytes(size_t stored) { return uint64_t(stored) * 1032 + 1024; }

// libdeflate's entry points for one framing (gzip or zlib).
struct DeflateFraming {
  const char* name;
  libdeflate_result (*decompress)(libdeflate_decompressor*, const void*, size_t, void*, size_t,
                                  size_t*);
  size_t (*compress_bound)(libdeflate_compressor*, size_t);
  size_t (*compress)(libdeflate_compressor*, const void*, size_t, void*, size_t);
};

// A deflate codec of one framing with a compression level (0..9, numcodecs' range).
class DeflateCodec : public Codec {
 public:
  DeflateCodec(const DeflateFraming& framing, int64_t level) : framing_(framing), level_(level) {}
  void decode(ByteView in, uint8_t* out, size_t out_size) const override;
  uint64_t most_decoded_bytes(size_t stored) const override { return most_inflated_bytes(stored); }
  void encode(ByteView in, std::string* out) const override;
  CodecConfig configuration(int) const override;

 private:
  void check_level() const;
  const DeflateFraming& framing_;
  int64_t level_;
};

}  // namespace fastchunk
