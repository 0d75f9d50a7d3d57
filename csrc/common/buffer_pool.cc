#include "common/buffer_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "common/fork_safe_mutex.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL
#endif

namespace fastchunk {
namespace {

// A Loader fetching ahead from an object store through a disk cache holds
// its prefetch budget of objects at once (256 MiB: over 100 objects of a
// few MB), and all come back together: with 64 kept, half of each epoch's
// objects were read into fresh memory again.
constexpr size_t kMaxKept = 1024;
constexpr size_t kMaxUnpopulated = 64;
using Clock = std::chrono::steady_clock;

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

size_t page_size() {
  static const size_t page = [] {
    const long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? size_t(p) : size_t(4096);
  }();
  return page;
}

struct Kept {
  size_t capacity;
  uint8_t* data;
  Clock::time_point given;
};

struct Pool {
  ForkSafeMutex mutex{LockRank::kBufferPool};
  std::vector<Kept> kept;  // oldest given back first
  size_t kept_bytes = 0;
  size_t budget = default_budget();
  Clock::duration idle = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(kIdleReleaseSeconds));
  uint64_t reused = 0, made = 0, released = 0, released_bytes = 0, made_bytes = 0;
  std::vector<PageRange> unpopulated;  // oldest noted first
};

// unpopulated.size(), readable without the lock: every read asks, and most
// find nothing noted.
std::atomic<size_t> g_unpopulated{0};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: threads may give buffers back at exit
  return *p;
}

std::atomic<void (*)()> g_listener{nullptr};

void notify() {
  if (auto* fn = g_listener.load(std::memory_order_acquire)) fn();
}

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

uint8_t* map_fresh(size_t capacity) {
  void* p = mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#ifdef MADV_NOHUGEPAGE
  madvise(p, capacity, MADV_NOHUGEPAGE);  // the same first touch under every THP setting
#endif
  return static_cast<uint8_t*>(p);
}

void release(uint8_t* p, size_t capacity) {
  if (capacity >= kMappedMin)
    munmap(p, capacity);
  else
    std::free(p);
}

// Drops kept buffers, oldest first, until `bytes` more fit and none is idle
// longer than the pool's idle time; returns them to free outside the lock.
void make_room(Pool& pl, size_t bytes, Clock::time_point now, std::vector<Kept>& dropped) {
  size_t k = 0;
  while (k < pl.kept.size() &&
         (pl.kept_bytes + bytes > pl.budget || pl.kept.size() - k + (bytes ? 1 : 0) > kMaxKept ||
          now - pl.kept[k].given > pl.idle)) {
    pl.kept_bytes -= pl.kept[k].capacity;
    ++pl.released;
    pl.released_bytes += pl.kept[k].capacity;
    dropped.push_back(pl.kept[k]);
    ++k;
  }
  pl.kept.erase(pl.kept.begin(), pl.kept.begin() + std::ptrdiff_t(k));
}

void release_all(const std::vector<Kept>& dropped) {
  for (const Kept& k : dropped) release(k.data, k.capacity);
}

}  // namespace

void populate(uint8_t* p, size_t n) {
  if (!p || !n) return;
  const size_t page = page_size();
  uint8_t* const begin = reinterpret_cast<uint8_t*>(reinterpret_cast<uintptr_t>(p) / page * page);
  static std::atomic<bool> unsupported{false};
  if (!unsupported.load(std::memory_order_relaxed)) {
    if (madvise(begin, size_t(p + n - begin), MADV_POPULATE_WRITE) == 0) return;
    if (errno != EINVAL) return;  // ENOMEM and friends: the faults will say so later
    unsupported.store(true, std::memory_order_relaxed);
  }
  // Older kernels: a write per page (the contents are undefined anyway).
  for (volatile uint8_t* q = begin; q < p + n; q += page) *q = 0;
}

bool populate_leaves_contents() {
  static const bool supported = [] {
    const size_t page = page_size();
    void* p = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    const bool ok = madvise(p, page, MADV_POPULATE_WRITE) == 0;
    munmap(p, page);
    return ok;
  }();
  return supported;
}

void note_unpopulated(uint8_t* p, size_t n) {
  if (!p || !n) return;
  Pool& pl = pool();
  std::lock_guard<ForkSafeMutex> lock(pl.mutex);
  if (pl.unpopulated.size() >= kMaxUnpopulated) pl.unpopulated.erase(pl.unpopulated.begin());
  pl.unpopulated.push_back(PageRange{p, n});
  g_unpopulated.store(pl.unpopulated.size(), std::memory_order_relaxed);
}

PageRange take_unpopulated(uint8_t* p, size_t n) {
  // An output is noted before the read that fills it starts (handed over
  // through Python, which orders the two).
  if (g_unpopulated.load(std::memory_order_relaxed) == 0) return PageRange{};
  Pool& pl = pool();
  std::lock_guard<ForkSafeMutex> lock(pl.mutex);
  for (auto it = pl.unpopulated.begin(); it != pl.unpopulated.end(); ++it) {
    uint8_t* const begin = std::max(it->data, p);
    uint8_t* const end = std::min(it->data + it->size, p + n);
    if (begin < end) {
      const PageRange whole = *it;
      pl.unpopulated.erase(it);
      // What lies outside the read stays noted for the reads of the other
      // parts (a view assembling an output from several arrays).
      if (whole.data < begin)
        pl.unpopulated.push_back(PageRange{whole.data, size_t(begin - whole.data)});
      if (end < whole.data + whole.size)
        pl.unpopulated.push_back(PageRange{end, size_t(whole.data + whole.size - end)});
      g_unpopulated.store(pl.unpopulated.size(), std::memory_order_relaxed);
      return PageRange{begin, size_t(end - begin)};
    }
  }
  return PageRange{};
}

uint8_t* take_buffer(size_t n, size_t& capacity, bool* fresh) {
  Pool& pl = pool();
  std::vector<Kept> dropped;
  uint8_t* found = nullptr;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    make_room(pl, 0, Clock::now(), dropped);
    size_t best = pl.kept.size();
    for (size_t i = 0; i < pl.kept.size(); ++i) {
      const size_t cap = pl.kept[i].capacity;
      if (cap >= n && cap / 2 <= n && (best == pl.kept.size() || cap < pl.kept[best].capacity))
        best = i;
    }
    if (best < pl.kept.size()) {
      found = pl.kept[best].data;
      capacity = pl.kept[best].capacity;
      pl.kept_bytes -= capacity;
      pl.kept.erase(pl.kept.begin() + std::ptrdiff_t(best));
      ++pl.reused;
    } else {
      ++pl.made;
      if (n >= kMappedMin) pl.made_bytes += round_up(n, page_size());
    }
  }
  release_all(dropped);
  if (found) {
    if (fresh) *fresh = false;
    notify();
    return found;
  }
  if (fresh) *fresh = false;
  if (n >= kMappedMin) {
    capacity = round_up(n, page_size());
    uint8_t* p = map_fresh(capacity);
    if (p && fresh)
      *fresh = true;
    else
      populate(p, capacity);
    return p;
  }
  capacity = n ? n : 1;
  return static_cast<uint8_t*>(std::malloc(capacity));
}

void give_buffer(uint8_t* p, size_t capacity) {
  if (!p) return;
  Pool& pl = pool();
  std::vector<Kept> dropped;
  bool kept = false;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    pl.unpopulated.erase(std::remove_if(pl.unpopulated.begin(), pl.unpopulated.end(),
                                        [&](const PageRange& r) {
                                          return r.data >= p && r.data < p + capacity;
                                        }),
                         pl.unpopulated.end());
    g_unpopulated.store(pl.unpopulated.size(), std::memory_order_relaxed);
    if (capacity <= pl.budget) {
      const Clock::time_point now = Clock::now();
      make_room(pl, capacity, now, dropped);
      pl.kept.push_back(Kept{capacity, p, now});
      pl.kept_bytes += capacity;
      kept = true;
    }
  }
  release_all(dropped);
  if (!kept) release(p, capacity);
  notify();
}

BufferPoolStats buffer_pool_stats() {
  Pool& pl = pool();
  std::lock_guard<ForkSafeMutex> lock(pl.mutex);
  BufferPoolStats s;
  s.budget = pl.budget;
  s.kept_bytes = pl.kept_bytes;
  s.kept_buffers = pl.kept.size();
  s.reused = pl.reused;
  s.made = pl.made;
  s.released = pl.released;
  s.released_bytes = pl.released_bytes;
  s.made_bytes = pl.made_bytes;
  return s;
}

void set_buffer_pool_budget(size_t bytes) {
  Pool& pl = pool();
  std::vector<Kept> dropped;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    pl.budget = bytes;
    make_room(pl, 0, Clock::now(), dropped);
  }
  release_all(dropped);
  notify();
}

void set_buffer_pool_idle_release(double seconds) {
  Pool& pl = pool();
  std::lock_guard<ForkSafeMutex> lock(pl.mutex);
  pl.idle = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

void clear_buffer_pool() {
  Pool& pl = pool();
  std::vector<Kept> dropped;
  {
    std::lock_guard<ForkSafeMutex> lock(pl.mutex);
    dropped.swap(pl.kept);
    pl.kept_bytes = 0;
    for (const Kept& k : dropped) {
      ++pl.released;
      pl.released_bytes += k.capacity;
    }
  }
  release_all(dropped);
  notify();
}

void set_buffer_pool_listener(void (*listener)()) {
  g_listener.store(listener, std::memory_order_release);
}

}  // namespace fastchunk
