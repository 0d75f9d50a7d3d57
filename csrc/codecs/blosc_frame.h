// Blosc 1 frames: the header, and whole blocks decoded straight into the
// output for the compressors fastchunk links itself (lz4, zlib, zstd) with
// byte shuffle or none. One write per output byte: a block's streams go to a
// per-thread staging block, and unshuffling writes the output; c-blosc's
// blosc_getitem instead decodes every block into a temporary it allocates
// per call and copies it out. Other frames (bitshuffle, blosclz, snappy)
// decode through c-blosc.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/buffer.h"

namespace fastchunk {

struct BloscFrame {
  uint8_t version = 0;
  uint8_t flags = 0;
  size_t typesize = 1;  // never 0 (such headers are refused, as c-blosc refuses them)
  size_t nbytes = 0;    // decoded size
  size_t blocksize = 0;
  size_t cbytes = 0;    // the whole frame
  size_t nblocks = 0;

  bool memcpyed() const { return flags & 0x2; }
  // Decodes blocks [first, last) itself (decode_blosc_blocks); otherwise c-blosc must.
  bool decodes_blocks() const;
};

// Reads and checks the header as c-blosc does before decoding (sizes within
// the frame, item size > 0, block size in (0, decoded size], no reserved
// flag, a copied frame exactly its bytes, room for the block table); throws
// a decode Error naming what is wrong.
BloscFrame parse_blosc_frame(ByteView in);

// Decodes blocks [first, last) of a frame that decodes_blocks() into out, the
// whole decoded chunk's buffer (block b lands at b * blocksize). Throws a
// decode Error when a block's streams are not what the frame says.
void decode_blosc_blocks(ByteView in, const BloscFrame& frame, size_t first, size_t last,
                         uint8_t* out);

// Whether block b's items can be written in part (decode_blosc_block_items):
// a whole, byte-shuffled block of a frame that decodes_blocks(), items of at
// most 16 bytes.
bool blosc_block_decodes_items(const BloscFrame& frame, size_t b);

// Writes the items of block b that `runs` name ([first, end) pairs of item
// indices within the block, sorted, disjoint) into out, the whole decoded
// chunk's buffer, for a block blosc_block_decodes_items(): its streams are
// decompressed whole (lz4's partial decompression measured slower than the
// whole stream), and only the runs are unshuffled into place. Throws a decode
// Error as decode_blosc_blocks.
using ItemRuns = std::vector<std::pair<size_t, size_t>>;
void decode_blosc_block_items(ByteView in, const BloscFrame& frame, size_t b,
                              const ItemRuns& runs, uint8_t* out);

}  // namespace fastchunk
