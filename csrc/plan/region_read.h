// Copies the selected part of a decoded chunk that is not in memory (a cache
// entry in a file) into the output: the holder supplies the bytes, by range
// or as a mapping; this file chooses how to take them. A whole chunk, or a
// part made of large blocks, is read straight into place; a part made of
// small pieces is copied from the chunk read whole, or from a mapping when it
// needs few of the chunk's pages. (On tmpfs, reads beat mappings by 2-5x.)
#pragma once
#include <cstddef>
#include <cstdint>

#include "plan/region_copy.h"

namespace fastchunk {

class ChunkBytes {
 public:
  virtual ~ChunkBytes() = default;
  virtual size_t size() const = 0;
  // Bytes [offset, offset + n) into `dst`; false when they cannot be read
  // (the file shrank or went away).
  virtual bool read(uint64_t offset, uint8_t* dst, size_t n) = 0;
  // The whole chunk mapped, or null (then it is read instead). Pages that
  // fault read as zeros: check intact() after using them.
  virtual const uint8_t* map() = 0;
  // Whether the mapping still held the chunk's bytes.
  virtual bool intact() const = 0;
};

// Copies the region `g` of `chunk` into `out`; false when the chunk could not
// be read whole (the output is then partly written: the caller decodes the
// chunk instead).
bool copy_region_from(const RegionGeometry& g, ChunkBytes& chunk, uint8_t* out);

}  // namespace fastchunk
