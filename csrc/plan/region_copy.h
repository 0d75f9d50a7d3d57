// Copies the selected part of one decoded chunk into the output, or fills the
// part of the output a missing chunk covers. Strides are in bytes, so permuted
// chunk layouts (order "F", transpose) read correctly without a transposing pass.
#pragma once
#include <cstdint>

#include "plan/positions.h"

namespace fastchunk {

struct AxisSpan {
  Positions out;  // output positions along this axis
  Positions in;   // positions inside the chunk
  int64_t n = 0;
  // Output and chunk positions both step by +1.
  bool contiguous() const {
    return n <= 1 || (!out.table && !in.table && out.step == 1 && in.step == 1);
  }
  // The largest position inside the chunk.
  int64_t in_max() const;
};

// `span` with tables that step by +1 replaced by runs (O(n)): callers that
// hold tables use it so that whole rows still copy as one block.
AxisSpan runs_detected(const AxisSpan& span);

struct RegionGeometry {
  int ndim;
  int64_t itemsize;
  const AxisSpan* axes;
  const int64_t* src_strides;  // bytes, per logical axis of the chunk
  const int64_t* dst_strides;  // bytes, per output axis
};

// Size in bytes of the contiguous block the innermost axes collapse into, and
// the number of outer axes left to iterate. When outer == 0 the whole region
// is one block in both source and destination.
struct Collapsed {
  int outer;
  int64_t block;
};
Collapsed collapse_region(const RegionGeometry& g);

void copy_region(const RegionGeometry& g, const uint8_t* src, uint8_t* dst);
void fill_region(const RegionGeometry& g, const uint8_t* fill_element, uint8_t* dst);

// Byte offset in the output of the region's first element.
int64_t region_dst_offset(const RegionGeometry& g);
// Byte offsets of the collapsed inner axes' first element in the chunk and in
// the output (their positions are runs of +1: only the first counts).
void inner_offsets(const RegionGeometry& g, const Collapsed& c, int64_t& src_off,
                   int64_t& dst_off);

// Calls f(offset in the chunk, offset in the output) for each position k of
// axis span `a` with strides ss (chunk) and ds (output), in order.
template <typename F>
inline void for_each_position(const AxisSpan& a, int64_t ss, int64_t ds, F&& f) {
  if (!a.in.table && !a.out.table) {
    int64_t s = a.in.first * ss, d = a.out.first * ds;
    const int64_t s_step = a.in.step * ss, d_step = a.out.step * ds;
    for (int64_t k = 0; k < a.n; ++k, s += s_step, d += d_step) f(s, d);
    return;
  }
  for (int64_t k = 0; k < a.n; ++k) f(a.in.at(k) * ss, a.out.at(k) * ds);
}

namespace detail {
template <typename F>
void walk_blocks(const RegionGeometry& g, const Collapsed& c, int axis, int64_t src, int64_t dst,
                 F& f) {
  const AxisSpan& a = g.axes[axis];
  const int64_t ss = g.src_strides[axis], ds = g.dst_strides[axis];
  if (axis == c.outer - 1) {
    if (a.contiguous() && ss == c.block && ds == c.block) {
      f(src + a.in.at(0) * ss, dst + a.out.at(0) * ds, a.n * c.block);
      return;
    }
    const int64_t block = c.block;
    for_each_position(a, ss, ds, [&](int64_t s, int64_t d) { f(src + s, dst + d, block); });
    return;
  }
  for_each_position(a, ss, ds,
                    [&](int64_t s, int64_t d) { walk_blocks(g, c, axis + 1, src + s, dst + d, f); });
}
}  // namespace detail

// The one walk over a region: calls f(offset in the chunk, offset in the
// output, bytes) for each contiguous block, in order (the innermost axes
// collapsed into one block where both sides allow it; a run of such blocks
// adjacent on both sides as one). copy_region and fill_region are this walk
// with a memcpy or a fill; a chunk held elsewhere (a cache file) is read
// block by block through it.
template <typename F>
void for_each_block(const RegionGeometry& g, F&& f) {
  const Collapsed c = collapse_region(g);
  int64_t src = 0, dst = 0;
  inner_offsets(g, c, src, dst);
  if (c.outer == 0) {
    f(src, dst, c.block);
    return;
  }
  detail::walk_blocks(g, c, 0, src, dst, f);
}

}  // namespace fastchunk
