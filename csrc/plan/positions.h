// Positions along one axis, the one type for them from Python down to the
// copy: a run first + k * step (slices, whole axes, a dropped axis: step 0;
// no table at all), or a table of positions (integer-array selections).
#pragma once
#include <cstdint>

namespace fastchunk {

struct Positions {
  const int64_t* table = nullptr;
  int64_t first = 0;
  int64_t step = 1;

  static Positions run(int64_t first, int64_t step = 1) { return Positions{nullptr, first, step}; }
  static Positions of(const int64_t* table) { return Positions{table, 0, 1}; }
  bool is_run() const { return table == nullptr; }
  int64_t at(int64_t k) const { return table ? table[k] : first + k * step; }
};

// The smallest and largest of the first n positions (n > 0); false when a
// run's last position overflows 64 bits.
bool position_bounds(const Positions& p, int64_t n, int64_t& lo, int64_t& hi);

}  // namespace fastchunk
