// Encoders for the bytes-to-bytes codecs the core decodes, one library each.
// Every encoder appends its output to `out` and throws fastchunk::Error on failure.
#pragma once
#include <cstdint>
#include <string>

#include "common/buffer.h"

namespace fastchunk {
namespace encode_impl {

void zstd_encode(ByteView in, int level, std::string* out);
// numcodecs Blosc 1 frame; shuffle 0 none, 1 byte, 2 bit; blocksize 0 = automatic.
void blosc_encode(ByteView in, const std::string& cname, int level, int shuffle, int typesize,
                  int blocksize, std::string* out);
void gzip_encode(ByteView in, int level, std::string* out);
void zlib_encode(ByteView in, int level, std::string* out);
// numcodecs LZ4 framing: a 4-byte little-endian decoded size, then one LZ4 block.
void lz4_encode(ByteView in, int acceleration, std::string* out);
// zarr v3 crc32c: the bytes followed by their 4-byte little-endian checksum.
void crc32c_append(ByteView in, std::string* out);

}  // namespace encode_impl
}  // namespace fastchunk
