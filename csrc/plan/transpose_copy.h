// Copies a chunk's region into an output whose innermost axis is another
// axis than the chunk's (anemoi-training's (dates, ensembles, gridpoints,
// variables) from chunks of (dates, variables, ensembles, gridpoints)), by
// square tiles: each tile's source rows and destination rows stay in cache,
// and every destination cache line is written whole. Runs on the thread that
// decoded the chunk, while the chunk is still in its cache.
#pragma once
#include <cstdint>

#include "plan/region_copy.h"

namespace fastchunk {

// Copies the region of `g` like copy_region and returns true when one axis
// is contiguous in the chunk (a run of +1 there and in the output) and
// another axis contiguous in the output, with items of 1, 2, 4 or 8 bytes;
// else copies nothing and returns false.
bool copy_transposed(const RegionGeometry& g, const uint8_t* src, uint8_t* dst);

}  // namespace fastchunk
