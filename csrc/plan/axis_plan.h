// The per-axis half of planning: which chunks along one axis a selection
// touches, and for each the output positions and the positions inside the
// chunk. A run (a slice, a whole axis) is planned in O(chunks touched) and
// needs no table; only integer-array axes build per-point tables.
#pragma once
#include <cstdint>
#include <vector>

#include "plan/region_copy.h"

namespace fastchunk {

// One axis of an orthogonal selection: `count` positions in the array, in
// output order (a table may repeat them).
struct AxisSelection {
  Positions positions;
  int64_t count = 0;

  static AxisSelection run(int64_t start, int64_t count, int64_t step = 1) {
    return AxisSelection{Positions::run(start, step), count};
  }
  static AxisSelection table(const int64_t* indices, int64_t count) {
    return AxisSelection{Positions::of(indices), count};
  }
  bool is_run() const { return positions.is_run(); }
  int64_t at(int64_t k) const { return positions.at(k); }
};

struct AxisGroup {
  int64_t chunk;    // chunk index along the axis
  int64_t count;    // positions the chunk serves
  // Output and chunk positions: runs, or (integer-array axes) entries
  // [table_begin, table_begin + count) of AxisPlan::out_pos / in_pos.
  Positions out, in;
  int64_t table_begin = -1;  // -1: runs
};

struct AxisPlan {
  std::vector<int64_t> out_pos;  // integer-array axes only
  std::vector<int64_t> in_pos;
  std::vector<AxisGroup> groups;

  // Group g's positions; tables point into this plan.
  AxisSpan span(const AxisGroup& g) const;
};

// The selection must be bounds-checked (positions inside [0, axis length)).
AxisPlan plan_axis(const AxisSelection& sel, int64_t chunk_len);

}  // namespace fastchunk
