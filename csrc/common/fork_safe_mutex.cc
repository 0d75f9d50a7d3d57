#include "common/fork_safe_mutex.h"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

namespace fastchunk {
namespace {

// A handful of global locks exist (caches, the thread pool), each registered
// once, when it is made.
constexpr int kMaxLocks = 32;
ForkSafeMutex* g_locks[kMaxLocks];
std::atomic<int> g_count{0};

// Locked in registration order, released in the reverse order. No code path
// holds two of these locks at once, so the order cannot deadlock.
void lock_all() {
  const int n = g_count.load();
  for (int i = 0; i < n; ++i) g_locks[i]->lock();
}

void unlock_all() {
  for (int i = g_count.load(); i-- > 0;) g_locks[i]->unlock();
}

void register_atfork_once() {
  static const bool registered = [] {
    pthread_atfork(lock_all, unlock_all, unlock_all);
    return true;
  }();
  (void)registered;
}

}  // namespace

ForkSafeMutex::ForkSafeMutex() {
  register_atfork_once();
  // Serializes registrations; a lock is visible to fork() once published.
  static std::mutex registering;
  std::lock_guard<std::mutex> guard(registering);
  const int slot = g_count.load();
  if (slot >= kMaxLocks) std::abort();  // a programming error: raise kMaxLocks
  g_locks[slot] = this;
  g_count.store(slot + 1);
}

}  // namespace fastchunk
