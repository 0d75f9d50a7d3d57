#include "common/fork_safe_mutex.h"

#include <pthread.h>

#include <cstdio>
#include <cstdlib>

namespace fastchunk {

// Every live ForkSafeMutex, and what fork() does with them.
struct ForkSafeMutexRegistry {
  static constexpr int kMaxLocks = 64;
  // Guards the table; fork() holds it too, so no lock comes or goes meanwhile.
  std::mutex mutex;
  ForkSafeMutex* locks[kMaxLocks] = {};
  int count = 0;
  ForkSafeMutex* order[kMaxLocks] = {};  // the table in rank order, while fork() holds it

  static ForkSafeMutexRegistry& get() {
    static ForkSafeMutexRegistry* r = [] {
      auto* made = new ForkSafeMutexRegistry;  // never destroyed: locks outlive static destructors
      pthread_atfork(prepare, in_parent, in_child);
      return made;
    }();
    return *r;
  }

  void add(ForkSafeMutex* m) {
    std::lock_guard<std::mutex> guard(mutex);
    if (count == kMaxLocks) {
      std::fprintf(stderr, "fastchunk: more than %d fork-safe locks\n", kMaxLocks);
      std::abort();  // a programming error: raise kMaxLocks
    }
    locks[count++] = m;
  }

  void remove(ForkSafeMutex* m) {
    std::lock_guard<std::mutex> guard(mutex);
    for (int i = 0; i < count; ++i)
      if (locks[i] == m) {
        locks[i] = locks[--count];
        return;
      }
  }

  // Before fork: every lock, in rank order (insertion sort: no allocation here).
  static void prepare() {
    ForkSafeMutexRegistry& r = get();
    r.mutex.lock();
    for (int i = 0; i < r.count; ++i) {
      ForkSafeMutex* m = r.locks[i];
      int j = i;
      for (; j > 0 && r.order[j - 1]->rank_ > m->rank_; --j) r.order[j] = r.order[j - 1];
      r.order[j] = m;
    }
    for (int i = 0; i < r.count; ++i) r.order[i]->mutex_.lock();
  }

  static void release_all() {
    ForkSafeMutexRegistry& r = get();
    for (int i = r.count; i-- > 0;) r.order[i]->mutex_.unlock();
    r.mutex.unlock();
  }

  static void in_parent() { release_all(); }

  static void in_child() {
    ForkSafeMutexRegistry& r = get();
    for (int i = 0; i < r.count; ++i)
      if (r.order[i]->in_child_) r.order[i]->in_child_();
    release_all();
  }
};

namespace {

// The ranks this thread holds, one bit each.
thread_local uint32_t t_held = 0;

static_assert(int(LockRank::kCount) <= 32, "one bit per rank");

void check_order(LockRank rank) {
  const uint32_t at_or_above = ~((uint32_t(1) << int(rank)) - 1);
  if (t_held & at_or_above) {
    int held = 31;
    while (!(t_held & (uint32_t(1) << held))) --held;
    std::fprintf(stderr,
                 "fastchunk: lock order violated: a lock of rank %d taken while holding rank %d "
                 "(csrc/common/fork_safe_mutex.h)\n",
                 int(rank), held);
    std::abort();
  }
}

}  // namespace

ForkSafeMutex::ForkSafeMutex(LockRank rank, void (*in_child)()) : rank_(rank), in_child_(in_child) {
  ForkSafeMutexRegistry::get().add(this);
}

ForkSafeMutex::~ForkSafeMutex() { ForkSafeMutexRegistry::get().remove(this); }

void ForkSafeMutex::lock() {
  check_order(rank_);
  mutex_.lock();
  t_held |= uint32_t(1) << int(rank_);
}

void ForkSafeMutex::unlock() {
  t_held &= ~(uint32_t(1) << int(rank_));
  mutex_.unlock();
}

bool ForkSafeMutex::try_lock() {
  check_order(rank_);
  if (!mutex_.try_lock()) return false;
  t_held |= uint32_t(1) << int(rank_);
  return true;
}

}  // namespace fastchunk
