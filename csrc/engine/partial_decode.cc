#include "engine/partial_decode.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace fastchunk {
namespace {

constexpr int64_t kMaxSegments = 1 << 14;

// Byte offset one past the last byte of the chunk the region reads.
size_t needed_end(const RegionGeometry& g) {
  int64_t end = g.itemsize;
  for (int d = 0; d < g.ndim; ++d) end += g.axes[d].in_max() * g.src_strides[d];
  return size_t(end);
}

// Start offsets (in the chunk) of the contiguous segments the region reads;
// false when there are too many to be worth listing.
bool segment_starts(const RegionGeometry& g, const Collapsed& c, std::vector<int64_t>& out) {
  int64_t count = 1;
  for (int d = 0; d < c.outer; ++d) {
    count *= g.axes[d].n;
    if (count > kMaxSegments) return false;
  }
  int64_t inner = 0, unused = 0;
  inner_offsets(g, c, inner, unused);
  out.assign(1, inner);
  for (int d = 0; d < c.outer; ++d) {
    std::vector<int64_t> next;
    next.reserve(out.size() * size_t(g.axes[d].n));
    for (int64_t base : out)
      for_each_position(g.axes[d], g.src_strides[d], 0,
                        [&](int64_t s, int64_t) { next.push_back(base + s); });
    out.swap(next);
  }
  return true;
}

}  // namespace

bool decode_needed_part(const ChainSpec& chain, ByteView raw, const RegionGeometry& g,
                        uint8_t* scratch, size_t chunk_nbytes) {
  // A region with as many items as the chunk needs all of it (an output in
  // another axis order, say): the whole decode is the faster one.
  uint64_t items = 1;
  for (int d = 0; d < g.ndim; ++d) items *= uint64_t(g.axes[d].n);
  if (items * uint64_t(g.itemsize) >= chunk_nbytes) return false;
  NeededBytes needed;
  needed.end = needed_end(g);
  const Collapsed c = collapse_region(g);
  needed.run = c.block;
  if (!segment_starts(g, c, needed.starts)) needed.starts.clear();  // too many to list
  return decode_chunk_part(chain, raw, std::move(needed), scratch, chunk_nbytes);
}

}  // namespace fastchunk
