#include "plan/positions.h"

#include <algorithm>

namespace fastchunk {

bool position_bounds(const Positions& p, int64_t n, int64_t& lo, int64_t& hi) {
  if (p.table) {
    const auto [min, max] = std::minmax_element(p.table, p.table + n);
    lo = *min;
    hi = *max;
    return true;
  }
  int64_t span = 0, last = 0;
  if (__builtin_mul_overflow(n - 1, p.step, &span) || __builtin_add_overflow(p.first, span, &last))
    return false;
  lo = std::min(p.first, last);
  hi = std::max(p.first, last);
  return true;
}

}  // namespace fastchunk
