#include "icechunk/chunk_refs.h"

#include <algorithm>
#include <numeric>

#include "common/error.h"

namespace fastchunk {

ChunkRefTable::ChunkRefTable(std::vector<uint64_t> grid) : grid_(std::move(grid)) {}

bool ChunkRefTable::in_grid(const uint32_t* coords) const {
  for (size_t d = 0; d < grid_.size(); ++d)
    if (coords[d] >= grid_[d]) return false;
  return true;
}

void ChunkRefTable::add(const uint32_t* coords, const ChunkRef& ref) {
  coords_.insert(coords_.end(), coords, coords + ndim());
  refs_.push_back(ref);
}

uint32_t ChunkRefTable::add_target(const std::string& location, bool is_virtual,
                                   const std::string& etag, uint32_t last_modified) {
  auto key = std::make_tuple(location, is_virtual, etag, last_modified);
  auto it = target_slot_.find(key);
  if (it != target_slot_.end()) return it->second;
  const uint32_t slot = uint32_t(targets_.size());
  ChunkTarget t;
  t.location = location;
  t.is_virtual = is_virtual;
  t.etag = etag;
  t.last_modified = last_modified;
  targets_.push_back(std::move(t));
  target_slot_.emplace(std::move(key), slot);
  return slot;
}

uint64_t ChunkRefTable::add_inline(const uint8_t* data, size_t n) {
  const uint64_t at = inline_.size();
  inline_.insert(inline_.end(), data, data + n);
  return at;
}

void ChunkRefTable::seal(const std::string& what) {
  target_slot_.clear();
  const size_t n = refs_.size(), nd = ndim();
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  const auto less = [&](uint32_t a, uint32_t b) {
    return std::lexicographical_compare(coords_.begin() + a * nd, coords_.begin() + (a + 1) * nd,
                                        coords_.begin() + b * nd, coords_.begin() + (b + 1) * nd);
  };
  if (!std::is_sorted(order.begin(), order.end(), less)) {
    std::sort(order.begin(), order.end(), less);
    std::vector<uint32_t> coords(coords_.size());
    std::vector<ChunkRef> refs(n);
    for (size_t i = 0; i < n; ++i) {
      std::copy_n(coords_.begin() + order[i] * nd, nd, coords.begin() + i * nd);
      refs[i] = refs_[order[i]];
    }
    coords_.swap(coords);
    refs_.swap(refs);
  }
  for (size_t i = 1; i < n; ++i)
    if (std::equal(coords_.begin() + (i - 1) * nd, coords_.begin() + i * nd,
                   coords_.begin() + i * nd)) {
      std::string at;
      for (size_t d = 0; d < nd; ++d) at += (d ? "," : "") + std::to_string(coords_[i * nd + d]);
      throw Error(ErrorKind::kMetadata, what + ": chunk (" + at + ") is referenced twice");
    }
  coords_.shrink_to_fit();
  refs_.shrink_to_fit();
  inline_.shrink_to_fit();
}

const ChunkRef* ChunkRefTable::find(const int64_t* coords) const {
  const size_t nd = ndim();
  for (size_t d = 0; d < nd; ++d)
    if (coords[d] < 0 || uint64_t(coords[d]) >= grid_[d]) return nullptr;
  size_t lo = 0, hi = refs_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    const uint32_t* c = coords_of(mid);
    int cmp = 0;
    for (size_t d = 0; d < nd && cmp == 0; ++d)
      cmp = c[d] < uint64_t(coords[d]) ? -1 : c[d] > uint64_t(coords[d]) ? 1 : 0;
    if (cmp == 0) return &refs_[mid];
    if (cmp < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return nullptr;
}

size_t ChunkRefTable::nbytes() const {
  size_t n = sizeof(*this) + coords_.capacity() * sizeof(uint32_t) +
             refs_.capacity() * sizeof(ChunkRef) + inline_.capacity();
  for (const ChunkTarget& t : targets_) n += sizeof(t) + t.location.size() + t.etag.size();
  return n;
}

}  // namespace fastchunk
