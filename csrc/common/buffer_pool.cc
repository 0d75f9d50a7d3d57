#include "common/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "common/fork_safe_mutex.h"

namespace fastchunk {
namespace {

constexpr size_t kMaxKept = 64;

size_t default_budget() {
  if (const char* env = std::getenv("FASTCHUNK_BUFFER_POOL_BYTES")) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(env, &end, 10);
    if (end != env) return size_t(v);
  }
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  const size_t memory = pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
  return std::min(memory / 8, size_t(4) << 30);
}

struct Pool {
  ForkSafeMutex mutex{LockRank::kBufferPool};
  std::vector<std::pair<size_t, uint8_t*>> kept;  // oldest first
  size_t kept_bytes = 0;
  size_t budget = default_budget();
  uint64_t reused = 0, made = 0;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: threads may give buffers back at exit
  return *p;
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

uint8_t* map_huge(size_t capacity) {
  // Over-allocate by one huge page and trim to a 2 MiB boundary.
  void* raw = mmap(nullptr, capacity + kHugePage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = round_up(start, kHugePage);
  if (aligned > start) munmap(raw, aligned - start);
  const uintptr_t end = start + capacity + kHugePage, used_end = aligned + capacity;
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
#ifdef MADV_HUGEPAGE
  madvise(reinterpret_cast<void*>(aligned), capacity, MADV_HUGEPAGE);  // a hint: errors are fine
#endif
  return reinterpret_cast<uint8_t*>(aligned);
}

void release(uint8_t* p, size_t capacity) {
  if (capacity >= kMappedMin)
    munmap(p, capacity);
  else
    std::free(p);
}

// Drops the oldest kept buffers until `bytes` more fit; returns them to free
// outside the lock.
void make_room(Pool& pl, size_t bytes, std::vector<std::pair<size_t, uint8_t*>>& dropped) {
  size_t k = 0;
  while (k < pl.kept.size() &&
         (pl.kept_bytes + bytes > pl.budget || pl.kept.size() - k + 1 > kMaxKept)) {
    pl.kept_bytes -= pl.kept[k].first;
    dropped.push_back(pl.kept[k]);
    ++k;
  }
  pl.kept.erase(pl.kept.begin(), pl.kept.begin() + std::ptrdiff_t(k));
}

}  // namespace

uint8_t* take_buffer(size_t n, size_t& capacity) {
  Pool& pl = pool();
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    size_t best = pl.kept.size();
    for (size_t i = 0; i < pl.kept.size(); ++i) {
      const size_t cap = pl.kept[i].first;
      if (cap >= n && cap / 2 <= n && (best == pl.kept.size() || cap < pl.kept[best].first))
        best = i;
    }
    if (best < pl.kept.size()) {
      uint8_t* p = pl.kept[best].second;
      capacity = pl.kept[best].first;
      pl.kept_bytes -= capacity;
      pl.kept.erase(pl.kept.begin() + std::ptrdiff_t(best));
      ++pl.reused;
      return p;
    }
    ++pl.made;
  }
  if (n >= kMappedMin) {
    capacity = round_up(n, kHugePage);
    return map_huge(capacity);
  }
  capacity = n ? n : 1;
  return static_cast<uint8_t*>(std::malloc(capacity));
}

void give_buffer(uint8_t* p, size_t capacity) {
  if (!p) return;
  Pool& pl = pool();
  std::vector<std::pair<size_t, uint8_t*>> dropped;
  bool kept = false;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    if (capacity <= pl.budget) {
      make_room(pl, capacity, dropped);
      pl.kept.emplace_back(capacity, p);
      pl.kept_bytes += capacity;
      kept = true;
    }
  }
  for (const auto& [cap, q] : dropped) release(q, cap);
  if (!kept) release(p, capacity);
}

BufferPoolStats buffer_pool_stats() {
  Pool& pl = pool();
  std::lock_guard<ForkSafeMutex> lock(pl.mutex);
  return BufferPoolStats{pl.budget, pl.kept_bytes, pl.kept.size(), pl.reused, pl.made};
}

void set_buffer_pool_budget(size_t bytes) {
  Pool& pl = pool();
  std::vector<std::pair<size_t, uint8_t*>> dropped;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    pl.budget = bytes;
    make_room(pl, 0, dropped);
  }
  for (const auto& [cap, q] : dropped) release(q, cap);
}

void clear_buffer_pool() {
  Pool& pl = pool();
  std::vector<std::pair<size_t, uint8_t*>> dropped;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    dropped.swap(pl.kept);
    pl.kept_bytes = 0;
  }
  for (const auto& [cap, q] : dropped) release(q, cap);
}

}  // namespace fastchunk
