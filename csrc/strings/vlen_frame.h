// The framing of numcodecs' VLenUTF8 / VLenBytes codecs (zarr v2 filters
// `vlen-utf8` / `vlen-bytes`, zarr v3 codecs of the same names): a 4-byte
// little-endian item count, then for each item a 4-byte little-endian length
// and that many bytes.
#pragma once
#include <cstdint>

#include "common/buffer.h"

namespace fastchunk {

// Checks that `in` holds exactly `items` items and nothing after them, and
// writes each item's start (offset in `in`) and length. A count other than
// `items`, a length running past the end, or trailing bytes are decode errors;
// nothing is allocated from the lengths the stream claims.
void parse_vlen_frame(ByteView in, int64_t items, int64_t* starts, int64_t* lengths);

}  // namespace fastchunk
