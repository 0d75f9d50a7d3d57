#include "engine/partial_decode.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace fastchunk {
namespace {

constexpr int64_t kMaxSegments = 1 << 14;

// Byte offset one past the last byte of the chunk the region reads.
size_t needed_end(const RegionGeometry& g) {
  int64_t end = g.itemsize;
  for (int d = 0; d < g.ndim; ++d) end += g.axes[d].in_max() * g.src_strides[d];
  return size_t(end);
}

// The region's reads of the chunk: runs of `run` bytes starting at `starts`.
// The innermost axes whose chunk positions step by +1 collapse into one run
// while each covers its axis whole (the output's layout does not matter: a
// region written channels last reads the same runs). False when there are
// too many runs to be worth listing.
bool source_runs(const RegionGeometry& g, int64_t& run, std::vector<int64_t>& starts) {
  run = g.itemsize;
  int inner = g.ndim;  // axes [inner, ndim) collapsed into the run
  int64_t first = 0;   // their first position's offset in the chunk
  while (inner > 0) {
    const AxisSpan& a = g.axes[inner - 1];
    const bool steps_by_one = a.n <= 1 || (!a.in.table && a.in.step == 1);
    if (!steps_by_one || g.src_strides[inner - 1] != run) break;
    first += a.in.at(0) * g.src_strides[inner - 1];
    run *= a.n;
    --inner;
    if (inner > 0 && g.src_strides[inner - 1] != run) break;  // this axis was not whole
  }
  int64_t count = 1;
  for (int d = 0; d < inner; ++d) {
    count *= g.axes[d].n;
    if (count > kMaxSegments) return false;
  }
  starts.assign(1, first);
  for (int d = 0; d < inner; ++d) {
    std::vector<int64_t> next;
    next.reserve(starts.size() * size_t(g.axes[d].n));
    for (int64_t base : starts)
      for (int64_t k = 0; k < g.axes[d].n; ++k)
        next.push_back(base + g.axes[d].in.at(k) * g.src_strides[d]);
    starts.swap(next);
  }
  return true;
}

}  // namespace

bool decode_needed_part(const ChainSpec& chain, ByteView raw, const RegionGeometry& g,
                        uint8_t* scratch, size_t chunk_nbytes) {
  // A region with as many items as the chunk needs all of it (an output in
  // another axis order, say): the whole decode is the faster one.
  uint64_t items = 1;
  for (int d = 0; d < g.ndim; ++d) items *= uint64_t(g.axes[d].n);
  if (items == 0 || items * uint64_t(g.itemsize) >= chunk_nbytes) return false;
  NeededBytes needed;
  needed.end = needed_end(g);
  if (!source_runs(g, needed.run, needed.starts)) needed.starts.clear();  // too many to list
  return decode_chunk_part(chain, raw, std::move(needed), scratch, chunk_nbytes);
}

}  // namespace fastchunk
