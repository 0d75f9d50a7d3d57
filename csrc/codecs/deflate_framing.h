// What the gzip and zlib codecs share (one library, two framings): per-thread
// libdeflate contexts, and the codec itself, given its framing's functions.
#pragma once
#include <libdeflate.h>

#include <string>

#include "codecs/codec.h"
#include "codecs/config_binder.h"

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

// The configuration of both: a compression level, 0..9 (numcodecs' range).
struct DeflateSettings {
  int64_t level = 5;
  void bind(ConfigBinder& b) { b.integer("level", level, 0, 9); }
};

// A deflate codec of one framing.
class DeflateCodec : public BytesToBytesCodec {
 public:
  DeflateCodec(const DeflateFraming& framing, DeflateSettings settings)
      : BytesToBytesCodec(std::nullopt), framing_(framing), settings_(settings) {}
  void decode(ByteView in, uint8_t* out, size_t out_size) const override;
  KnownSize decoded_size(ByteView) const override { return std::nullopt; }
  KnownSize most_decoded_bytes(size_t stored) const override { return most_inflated_bytes(stored); }
  void encode(ByteView in, std::string* out) const override;
  CodecConfig configuration(int zarr_format) const override;

 private:
  const DeflateFraming& framing_;
  DeflateSettings settings_;
};

}  // namespace fastchunk
