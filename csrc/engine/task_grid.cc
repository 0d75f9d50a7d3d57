#include "engine/task_grid.h"

#include <algorithm>
#include <string>

#include "common/error.h"

namespace fastchunk {

namespace {

// The output strides must be those of a C-order array of the selection's
// counts with its axes in some order: every byte written lies inside the
// output, each once.
void check_out_strides(const ArraySpec& spec, const Selection& sel) {
  const size_t nd = sel.axes.size();
  if (sel.out_strides.size() != nd)
    throw Error(ErrorKind::kIndex, "output strides: one per axis needed");
  std::vector<size_t> order;
  for (size_t d = 0; d < nd; ++d)
    if (sel.axes[d].count > 1) order.push_back(d);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return sel.out_strides[a] < sel.out_strides[b]; });
  int64_t expect = spec.itemsize;
  for (size_t d : order) {
    if (sel.out_strides[d] != expect)
      throw Error(ErrorKind::kIndex,
                  "output strides are not those of a contiguous array in some axis order");
    expect *= sel.axes[d].count;
  }
}

}  // namespace

uint64_t check_selection(const ArraySpec& spec, const Selection& sel) {
  const size_t nd = spec.shape.size();
  if (sel.axes.size() != nd)
    throw Error(ErrorKind::kIndex, "the selection has " + std::to_string(sel.axes.size()) +
                                       " axes, the array " + std::to_string(nd));
  uint64_t nbytes = uint64_t(spec.itemsize);
  for (size_t d = 0; d < nd; ++d) {
    const AxisSelection& a = sel.axes[d];
    const int64_t n = a.count;
    if (n < 0) throw Error(ErrorKind::kIndex, "negative selection length");
    auto check = [&](int64_t v) {
      if (v < 0 || v >= spec.shape[d])
        throw Error(ErrorKind::kIndex, "index " + std::to_string(v) + " is out of bounds for axis " +
                                           std::to_string(d) + " with size " +
                                           std::to_string(spec.shape[d]));
    };
    int64_t lo = 0, hi = 0;
    if (n > 0 && !position_bounds(a.positions, n, lo, hi))
      throw Error(ErrorKind::kIndex, "a run of positions overflows 64 bits");
    if (n > 0) {
      check(lo);
      check(hi);
    }
    if (__builtin_mul_overflow(nbytes, uint64_t(n), &nbytes))
      throw Error(ErrorKind::kIndex, "the selection's size overflows 64 bits");
  }
  if (!sel.out_strides.empty()) check_out_strides(spec, sel);
  return nbytes;
}

TaskGrid::TaskGrid(const ArraySpec& spec, const Selection& sel)
    : spec_(spec), nd_(spec.shape.size()), output_nbytes_(check_selection(spec, sel)) {
  axes_.reserve(nd_);
  for (size_t d = 0; d < nd_; ++d) {
    axes_.push_back(plan_axis(sel.axes[d], spec.chunk_shape[d]));
    ntasks_ *= int64_t(axes_.back().groups.size());
  }
  dst_strides_.assign(nd_, 0);
  int64_t stride = spec.itemsize;
  for (size_t d = nd_; d-- > 0;) {
    dst_strides_[d] = stride;
    stride *= sel.axes[d].count;
  }
  if (!sel.out_strides.empty()) dst_strides_ = sel.out_strides;
  src_strides_.assign(nd_, 0);
  stride = spec.itemsize;
  for (size_t i = nd_; i-- > 0;) {
    const size_t logical = spec.stored_axes.empty() ? i : size_t(spec.stored_axes[i]);
    src_strides_[logical] = stride;
    stride *= spec.chunk_shape[logical];
  }
}

void TaskGrid::locate(int64_t t, TaskLocation& loc) const {
  loc.coords.resize(nd_);
  for (size_t d = nd_; d-- > 0;) {
    const int64_t g = int64_t(axes_[d].groups.size());
    loc.coords[d] = axes_[d].groups[size_t(t % g)].chunk;
    t /= g;
  }
  loc.inner = 0;
  if (!spec_.sharded) return;
  for (size_t d = 0; d < nd_; ++d) {  // the inner number runs in C order
    const int64_t per = spec_.shard.chunks_per_shard[d];
    loc.inner = loc.inner * per + loc.coords[d] % per;
    loc.coords[d] /= per;
  }
}

RegionGeometry TaskGrid::geometry(int64_t t, std::vector<AxisSpan>& spans) const {
  spans.resize(nd_);
  for (size_t d = nd_; d-- > 0;) {
    const int64_t g = int64_t(axes_[d].groups.size());
    const AxisGroup& group = axes_[d].groups[size_t(t % g)];
    t /= g;
    spans[d] = axes_[d].span(group);
  }
  return RegionGeometry{int(nd_), spec_.itemsize, spans.data(), src_strides_.data(),
                        dst_strides_.data()};
}

}  // namespace fastchunk
