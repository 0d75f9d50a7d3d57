// Copies the selected part of one decoded chunk into the output, or fills the
// part of the output a missing chunk covers. Strides are in bytes, so permuted
// chunk layouts (order "F", transpose) read correctly without a transposing pass.
#pragma once
#include <cstdint>

namespace fastchunk {

struct AxisSpan {
  const int64_t* out;  // output positions along this axis
  const int64_t* in;   // positions inside the chunk
  int64_t n;
  bool run;            // both step by +1
};

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

}  // namespace fastchunk
