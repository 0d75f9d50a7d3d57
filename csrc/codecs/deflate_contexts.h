// Per-thread libdeflate compressors and decompressor, shared by the gzip and
// zlib codecs (one library, two framings).
#pragma once
#include <libdeflate.h>

namespace fastchunk {

libdeflate_decompressor* thread_deflate_decompressor();
// Levels 0..12; throws kUnsupported outside them.
libdeflate_compressor* thread_deflate_compressor(int level);
// Turns a libdeflate result into a decode Error unless it decoded exactly `expected` bytes.
void check_inflated(libdeflate_result r, size_t got, size_t expected, const char* what);
// 1032:1 is deflate's best ratio (a 258-byte match in 2 bits), plus room for headers.
inline uint64_t most_inflated_bytes(size_t stored) { return uint64_t(stored) * 1032 + 1024; }

}  // namespace fastchunk
