// NaN count, min, max, sum and sum of squares of decoded data, per index along one axis:
// the reduction behind `fastchunk info --scan`.
#pragma once
#include <cstdint>
#include <vector>

namespace fastchunk {

struct ScanStats {
  std::vector<int64_t> nan_count;  // one entry per index along the axis
  std::vector<int64_t> count;      // values that are not NaN
  std::vector<double> min;         // over values that are not NaN (+inf when none)
  std::vector<double> max;         // (-inf when none)
  std::vector<double> sum;
  std::vector<double> sum_squares;  // for the standard deviation
};

// `data` is a C-contiguous block seen as (outer, nvar, inner) items of a
// numpy type: kind 'f' (itemsize 2, 4, 8), 'i', 'u' (1, 2, 4, 8) or 'b' (1).
// Runs on the thread pool; the result has nvar entries per field.
void scan_stats(const uint8_t* data, char kind, int itemsize, int64_t outer, int64_t nvar,
                int64_t inner, ScanStats* out);

}  // namespace fastchunk
