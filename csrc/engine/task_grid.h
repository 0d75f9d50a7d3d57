// A selection cut into tasks, one per chunk it touches: the per-axis plans
// (plan/axis_plan.h) combined, with the byte strides of the output and of a
// decoded chunk. Task t's groups along each axis follow from t alone (the
// last axis varies fastest), so nothing per task is stored.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/array_spec.h"
#include "plan/axis_plan.h"
#include "plan/region_copy.h"

namespace fastchunk {

// One AxisSelection per array axis: runs for slices and whole axes, tables
// of positions for integer-array axes.
struct Selection {
  std::vector<AxisSelection> axes;
  // Bytes between neighbours along each axis of the output; empty: C order.
  // Otherwise the C-order strides of the output's axes in another order (an
  // output laid out with another innermost axis), checked by check_selection.
  std::vector<int64_t> out_strides;
};

// Throws Error(kIndex) unless `sel` has one axis per array axis, every
// count >= 0 and every position inside the array (a run: its first and last;
// a table: every entry); returns the output size in bytes.
uint64_t check_selection(const ArraySpec& spec, const Selection& sel);

// Where task t's chunk is stored: the object's grid coordinates (the shard
// grid when sharded) and the inner chunk's number in C order within the
// shard (0 when not sharded).
struct TaskLocation {
  std::vector<int64_t> coords;
  int64_t inner = 0;
};

class TaskGrid {
 public:
  // `spec` must outlive the grid; the selection's tables are read here only.
  // Checks the selection first (check_selection).
  TaskGrid(const ArraySpec& spec, const Selection& sel);

  uint64_t output_nbytes() const { return output_nbytes_; }
  int64_t ntasks() const { return ntasks_; }
  bool empty() const { return ntasks_ == 0; }

  void locate(int64_t t, TaskLocation& loc) const;
  // Task t's region of its decoded chunk and of the output; `spans` is the
  // storage the geometry points into.
  RegionGeometry geometry(int64_t t, std::vector<AxisSpan>& spans) const;

 private:
  const ArraySpec& spec_;
  size_t nd_;
  std::vector<AxisPlan> axes_;
  std::vector<int64_t> dst_strides_, src_strides_;
  uint64_t output_nbytes_ = 0;
  int64_t ntasks_ = 1;
};

}  // namespace fastchunk
