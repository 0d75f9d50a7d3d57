#include "plan/axis_plan.h"

#include <algorithm>
#include <numeric>

namespace fastchunk {
namespace {

// A run start + k * step: one group per chunk it crosses, computed, not listed.
void plan_run(const AxisSelection& sel, int64_t chunk_len, AxisPlan& plan) {
  const int64_t n = sel.count, start = sel.positions.first, step = sel.positions.step;
  if (step == 0) {  // one position, repeated
    const int64_t chunk = start / chunk_len;
    plan.groups.push_back(
        AxisGroup{chunk, n, Positions::run(0), Positions::run(start - chunk * chunk_len, 0)});
    return;
  }
  for (int64_t k = 0; k < n;) {
    const int64_t p = start + k * step;
    const int64_t chunk = p / chunk_len;
    // The last k in this chunk: start + k * step stays >= chunk * len (step < 0)
    // or <= (chunk + 1) * len - 1 (step > 0).
    const int64_t last = step > 0 ? ((chunk + 1) * chunk_len - 1 - start) / step
                                  : (start - chunk * chunk_len) / -step;
    const int64_t end = std::min(n, last + 1);
    plan.groups.push_back(
        AxisGroup{chunk, end - k, Positions::run(k), Positions::run(p - chunk * chunk_len, step)});
    k = end;
  }
}

void plan_table(const AxisSelection& sel, int64_t chunk_len, AxisPlan& plan) {
  const int64_t n = sel.count;
  const int64_t* indices = sel.positions.table;
  plan.out_pos.resize(size_t(n));
  plan.in_pos.resize(size_t(n));
  // Sorted input gives non-decreasing chunk ids: no sort needed.
  bool sorted_by_chunk = true;
  for (int64_t i = 1; i < n && sorted_by_chunk; ++i)
    sorted_by_chunk = indices[i] / chunk_len >= indices[i - 1] / chunk_len;
  std::vector<int64_t> order;
  if (!sorted_by_chunk) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return indices[a] / chunk_len < indices[b] / chunk_len;
    });
  }
  for (int64_t k = 0; k < n; ++k) {
    const int64_t out = sorted_by_chunk ? k : order[size_t(k)];
    const int64_t chunk = indices[out] / chunk_len;
    plan.out_pos[size_t(k)] = out;
    plan.in_pos[size_t(k)] = indices[out] - chunk * chunk_len;
    if (plan.groups.empty() || plan.groups.back().chunk != chunk)
      plan.groups.push_back(AxisGroup{chunk, 0, Positions{}, Positions{}, k});
    ++plan.groups.back().count;
  }
  // Groups whose positions both step by +1 (or single positions) become runs:
  // their rows copy as one block.
  for (AxisGroup& g : plan.groups) {
    const int64_t* out = plan.out_pos.data() + g.table_begin;
    const int64_t* in = plan.in_pos.data() + g.table_begin;
    bool run = true;
    for (int64_t k = 1; k < g.count && run; ++k) run = out[k] == out[k - 1] + 1 && in[k] == in[k - 1] + 1;
    if (run) {
      g.out = Positions::run(out[0]);
      g.in = Positions::run(in[0]);
      g.table_begin = -1;
    }
  }
}

}  // namespace

AxisSpan AxisPlan::span(const AxisGroup& g) const {
  if (g.table_begin < 0) return AxisSpan{g.out, g.in, g.count};
  return AxisSpan{Positions::of(out_pos.data() + g.table_begin),
                  Positions::of(in_pos.data() + g.table_begin), g.count};
}

AxisPlan plan_axis(const AxisSelection& sel, int64_t chunk_len) {
  AxisPlan plan;
  if (sel.count <= 0) return plan;
  if (sel.is_run())
    plan_run(sel, chunk_len, plan);
  else
    plan_table(sel, chunk_len, plan);
  return plan;
}

}  // namespace fastchunk
