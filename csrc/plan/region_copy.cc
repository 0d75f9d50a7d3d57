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

struct Walker {
  const RegionGeometry& g;
  Collapsed c;
  const uint8_t* fill = nullptr;
  bool uniform_fill = false;

  void copy(int axis, const uint8_t* src, uint8_t* dst) const {
    const AxisSpan& a = g.axes[axis];
    const int64_t ss = g.src_strides[axis], ds = g.dst_strides[axis];
    if (axis == c.outer - 1) {
      if (a.contiguous() && ss == c.block && ds == c.block) {
        std::memcpy(dst + a.out.at(0) * ds, src + a.in.at(0) * ss, size_t(a.n * c.block));
        return;
      }
      const int64_t block = c.block;
      for_each_position(a, ss, ds,
                        [&](int64_t s, int64_t d) { copy_block(dst + d, src + s, block); });
      return;
    }
    for_each_position(a, ss, ds, [&](int64_t s, int64_t d) { copy(axis + 1, src + s, dst + d); });
  }

  void fill_at(int axis, uint8_t* dst) const {
    const AxisSpan& a = g.axes[axis];
    const int64_t ds = g.dst_strides[axis];
    if (axis == c.outer - 1) {
      if (a.contiguous() && ds == c.block) {
        fill_block(dst + a.out.at(0) * ds, fill, g.itemsize, a.n * c.block, uniform_fill);
        return;
      }
      for_each_position(a, 0, ds, [&](int64_t, int64_t d) {
        fill_block(dst + d, fill, g.itemsize, c.block, uniform_fill);
      });
      return;
    }
    for_each_position(a, 0, ds, [&](int64_t, int64_t d) { fill_at(axis + 1, dst + d); });
  }
};

}  // namespace

int64_t AxisSpan::in_max() const {
  if (n <= 0) return 0;
  if (!in.table) return in.step >= 0 ? in.first + (n - 1) * in.step : in.first;
  return *std::max_element(in.table, in.table + n);
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
  const Collapsed c = collapse_region(g);
  int64_t so, dof;
  inner_offsets(g, c, so, dof);
  if (c.outer == 0) {
    std::memcpy(dst + dof, src + so, size_t(c.block));
    return;
  }
  // Single items apart in the output: an output with another innermost axis.
  if (c.block == g.itemsize && copy_transposed(g, src, dst)) return;
  Walker w{g, c};
  w.copy(0, src + so, dst + dof);
}

void fill_region(const RegionGeometry& g, const uint8_t* fill_element, uint8_t* dst) {
  // The source stride check is irrelevant for fills: use the destination's.
  RegionGeometry gd = g;
  gd.src_strides = g.dst_strides;
  const Collapsed c = collapse_region(gd);
  bool uniform = true;
  for (int64_t i = 1; i < g.itemsize; ++i) uniform = uniform && fill_element[i] == fill_element[0];
  int64_t so, dof;
  inner_offsets(gd, c, so, dof);
  if (c.outer == 0) {
    fill_block(dst + dof, fill_element, g.itemsize, c.block, uniform);
    return;
  }
  Walker w{gd, c, fill_element, uniform};
  w.fill_at(0, dst + dof);
}

}  // namespace fastchunk
