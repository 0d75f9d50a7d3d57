// The per-axis half of planning: which chunks along one axis a selection
// touches, and for each the (output position, position inside the chunk) pairs.
#pragma once
#include <cstdint>
#include <vector>

namespace fastchunk {

struct AxisGroup {
  int64_t chunk;    // chunk index along the axis
  int64_t begin;    // first pair in AxisPlan::out_pos / in_pos
  int64_t count;    // number of pairs
  bool run;         // out and in positions both step by +1
};

struct AxisPlan {
  std::vector<int64_t> out_pos;
  std::vector<int64_t> in_pos;
  std::vector<AxisGroup> groups;
};

// `indices` are source positions along the axis, already bounds-checked, in
// output order (duplicates allowed).
AxisPlan plan_axis(const int64_t* indices, int64_t n, int64_t chunk_len);

}  // namespace fastchunk
