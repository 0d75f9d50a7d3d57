#include "plan/region_copy.h"

#include <algorithm>
#include <cstring>

#include "plan/transpose_copy.h"

namespace fastchunk {
namespace {

inline void copy_block(uint8_t* dst, const uint8_t* src, int64_t n) {
  switch (n) {
    case 1: *dst = *src; return;
    case 2: std::memcpy(dst, src, 2); return;
    case 4: std::memcpy(dst, src, 4); return;
    case 8: std::memcpy(dst, src, 8); return;
    case 16: std::memcpy(dst, src, 16); return;
    default: std::memcpy(dst, src, size_t(n));
  }
}

void fill_block(uint8_t* dst, const uint8_t* pattern, int64_t itemsize, int64_t nbytes,
                bool uniform) {
  if (uniform) {
    std::memset(dst, pattern[0], size_t(nbytes));
    return;
  }
  for (int64_t off = 0; off < nbytes; off += itemsize) copy_block(dst + off, pattern, itemsize);
}

}  // namespace

int64_t AxisSpan::in_max() const {
  int64_t lo = 0, hi = 0;
  if (n <= 0 || !position_bounds(in, n, lo, hi)) return 0;  // runs are checked when planned
  return hi;
}

AxisSpan runs_detected(const AxisSpan& span) {
  AxisSpan s = span;
  auto detect = [&](Positions& p) {
    if (!p.table || s.n == 0) return;
    for (int64_t k = 1; k < s.n; ++k)
      if (p.table[k] != p.table[k - 1] + 1) return;
    p = Positions::run(p.table[0]);
  };
  detect(s.out);
  detect(s.in);
  return s;
}

Collapsed collapse_region(const RegionGeometry& g) {
  int64_t block = g.itemsize;
  int d = g.ndim;
  while (d > 0) {
    const AxisSpan& a = g.axes[d - 1];
    if (!(a.contiguous() && g.src_strides[d - 1] == block && g.dst_strides[d - 1] == block)) break;
    block *= a.n;
    --d;
    // An axis can only be collapsed past when it is taken whole on both sides;
    // the next axis's stride check enforces that.
  }
  return Collapsed{d, block};
}

int64_t region_dst_offset(const RegionGeometry& g) {
  int64_t off = 0;
  for (int d = 0; d < g.ndim; ++d) off += g.axes[d].out.at(0) * g.dst_strides[d];
  return off;
}

void inner_offsets(const RegionGeometry& g, const Collapsed& c, int64_t& src_off,
                   int64_t& dst_off) {
  src_off = dst_off = 0;
  for (int d = c.outer; d < g.ndim; ++d) {
    src_off += g.axes[d].in.at(0) * g.src_strides[d];
    dst_off += g.axes[d].out.at(0) * g.dst_strides[d];
  }
}

void copy_region(const RegionGeometry& g, const uint8_t* src, uint8_t* dst) {
  // Single items apart in the output: an output with another innermost axis.
  if (collapse_region(g).block == g.itemsize && copy_transposed(g, src, dst)) return;
  for_each_block(g, [&](int64_t s, int64_t d, int64_t n) { copy_block(dst + d, src + s, n); });
}

void fill_region(const RegionGeometry& g, const uint8_t* fill_element, uint8_t* dst) {
  // The source side is irrelevant for fills: walk the destination's strides.
  RegionGeometry gd = g;
  gd.src_strides = g.dst_strides;
  bool uniform = true;
  for (int64_t i = 1; i < g.itemsize; ++i) uniform = uniform && fill_element[i] == fill_element[0];
  for_each_block(gd, [&](int64_t, int64_t d, int64_t n) {
    fill_block(dst + d, fill_element, g.itemsize, n, uniform);
  });
}

}  // namespace fastchunk
