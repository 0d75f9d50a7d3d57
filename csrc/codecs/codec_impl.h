// Per-library decoders behind decode_bytes_into(); each lives in its own file.
#pragma once
#include <cstdint>

#include "common/buffer.h"

namespace fastchunk {
namespace codec_impl {

void blosc_decode(ByteView in, uint8_t* out, size_t out_size);
int64_t blosc_announced_size(ByteView in);

void zstd_decode(ByteView in, uint8_t* out, size_t out_size);
int64_t zstd_announced_size(ByteView in);

void gzip_decode(ByteView in, uint8_t* out, size_t out_size);
int64_t gzip_announced_size(ByteView in);
void zlib_decode(ByteView in, uint8_t* out, size_t out_size);

void lz4_decode(ByteView in, uint8_t* out, size_t out_size);
int64_t lz4_announced_size(ByteView in);

}  // namespace codec_impl
}  // namespace fastchunk
