// Decoders for the bytes-to-bytes codecs the core implements natively.
#pragma once
#include <cstdint>

#include "common/buffer.h"

namespace fastchunk {

enum class ByteCodecId : int {
  kBlosc = 1,
  kZstd = 2,
  kGzip = 3,
  kZlib = 4,
  kLz4 = 5,     // numcodecs LZ4: 4-byte little-endian size, then one LZ4 block
  kCrc32c = 6,  // zarr v3: 4-byte little-endian checksum appended
};

// Decodes `in` into exactly `out_size` bytes at `out`; throws a decode Error
// when the stream is corrupt or does not decode to exactly out_size bytes.
void decode_bytes_into(ByteCodecId codec, ByteView in, uint8_t* out, size_t out_size);

// The decoded size a stream announces in its header, or -1 when it does not.
int64_t announced_decoded_size(ByteCodecId codec, ByteView in);

// Verifies and strips a crc32c trailer.
ByteView strip_crc32c(ByteView in);

// Decodes items [first, first + count) of a blosc frame whose items are
// `itemsize` bytes wide, decompressing only the blocks that hold them.
void blosc_decode_items(ByteView in, int64_t first, int64_t count, uint8_t* out);

// Layout of a blosc frame: item size, block size and decoded size.
struct BloscLayout {
  uint32_t typesize;
  uint32_t blocksize;
  uint32_t nbytes;
};
BloscLayout blosc_layout(ByteView in);

// Decodes the first `prefix` bytes of a zstd stream whose full decoded size
// is `out_size`, stopping as soon as they are out. Returns false, having
// decoded nothing useful, when the frame asks for a window larger than the
// chunk (streaming would allocate it; a whole-chunk decode does not).
bool zstd_decode_prefix(ByteView in, uint8_t* out, size_t prefix, size_t out_size);

}  // namespace fastchunk
