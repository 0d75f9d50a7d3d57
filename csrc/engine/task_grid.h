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

struct Selection {
  std::vector<const int64_t*> indices;  // per axis: source positions, in output order
  std::vector<int64_t> counts;          // per axis: output extent
};

// Throws Error(kIndex) unless `sel` has one axis per array axis, every
// count >= 0 and every index inside the array; returns the output size in bytes.
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
  // `spec` and the selection's index arrays are read here only.
  TaskGrid(const ArraySpec& spec, const Selection& sel);

  int64_t ntasks() const { return ntasks_; }
  bool empty() const { return ntasks_ == 0; }

  // The groups of task t along each axis.
  void groups(int64_t t, std::vector<const AxisGroup*>& out) const;
  void locate(int64_t t, TaskLocation& loc) const;
  // Task t's region of its decoded chunk and of the output; `spans` is the
  // storage the geometry points into.
  RegionGeometry geometry(int64_t t, std::vector<AxisSpan>& spans) const;

 private:
  const ArraySpec& spec_;
  size_t nd_;
  std::vector<AxisPlan> axes_;
  std::vector<int64_t> dst_strides_, src_strides_;
  int64_t ntasks_ = 1;
};

}  // namespace fastchunk
