#include "plan/axis_plan.h"

#include <algorithm>
#include <numeric>

namespace fastchunk {

AxisPlan plan_axis(const int64_t* indices, int64_t n, int64_t chunk_len) {
  AxisPlan plan;
  plan.out_pos.resize(size_t(n));
  plan.in_pos.resize(size_t(n));
  // Slices give non-decreasing chunk ids: no sort needed, the common case.
  bool sorted_by_chunk = true;
  for (int64_t i = 1; i < n && sorted_by_chunk; ++i)
    sorted_by_chunk = indices[i] / chunk_len >= indices[i - 1] / chunk_len;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (!sorted_by_chunk) {
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return indices[a] / chunk_len < indices[b] / chunk_len;
    });
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t out = order[size_t(k)];
    const int64_t chunk = indices[out] / chunk_len;
    const int64_t in = indices[out] - chunk * chunk_len;
    plan.out_pos[size_t(k)] = out;
    plan.in_pos[size_t(k)] = in;
    if (plan.groups.empty() || plan.groups.back().chunk != chunk) {
      plan.groups.push_back(AxisGroup{chunk, k, 0, true});
    }
    AxisGroup& g = plan.groups.back();
    if (g.count > 0) {
      g.run = g.run && plan.out_pos[size_t(k - 1)] + 1 == out &&
              plan.in_pos[size_t(k - 1)] + 1 == in;
    }
    ++g.count;
  }
  return plan;
}

}  // namespace fastchunk
