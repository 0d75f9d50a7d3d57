// The lock of every global structure of the core: a process-wide mutex that
// fork() never copies while it is held. fork() takes every one of them
// (pthread_atfork prepare) and both the parent and the child release them
// afterwards, so a forked child finds each free and the data it guards
// consistent, even when another thread was inside at fork time.
//
// Lock order. Each lock has a rank (LockRank, outermost first). A thread that
// holds a lock may take only locks of a higher rank, and fork() takes them
// all in rank order, so neither a thread nor fork() can wait in a cycle.
// Taking a lock against the order ends the process with a message: that is a
// programming error that would otherwise deadlock a forked child one day.
// docs/architecture.md lists which lock is taken inside which.
//
// A lock may name a hook that runs in a forked child while every lock is
// still held (before they are released): the place to drop what the child
// must not use (its parent's threads, descriptors whose locks are the parent's).
// No other code of the core calls pthread_atfork.
#pragma once
#include <cstdint>
#include <mutex>

namespace fastchunk {

enum class LockRank : uint8_t {
  kThreadPool = 1,      // engine/thread_pool: the pool in use (may join an old pool's threads)
  kSharedCacheSetting,  // cache/shared_cache: which node-wide cache this process uses
  kFileCacheSection,    // cache/file_cache: an accounting section (the directory's flock inside)
  kFillClaims,          // cache/fill_claim: the claim descriptors of this process
  kCheckedFiles,        // cache/checked_files: entries whose checksum was verified
  kMappedFiles,         // io/mapped_files: statistics and filesystem verdicts (reads its LRU's)
  kLru,                 // cache/byte_lru: one LRU; its values are destroyed under it
  kProcessStats,        // cache/process_stats: this process's stats page (published from
                        // the buffer pool's listener, under an LRU dropping a value)
  kSigbusRegistry,      // io/sigbus_guard: the registered ranges
  kBufferPool,          // common/buffer_pool: the buffers kept for reuse
  kTestOuter,           // unit tests only
  kTestInner,
  kCount
};

class ForkSafeMutex {
 public:
  // Registers itself; unregisters when destroyed.
  explicit ForkSafeMutex(LockRank rank, void (*in_child)() = nullptr);
  ~ForkSafeMutex();
  ForkSafeMutex(const ForkSafeMutex&) = delete;
  ForkSafeMutex& operator=(const ForkSafeMutex&) = delete;

  void lock();
  void unlock();
  bool try_lock();
  LockRank rank() const { return rank_; }

 private:
  friend struct ForkSafeMutexRegistry;
  std::mutex mutex_;
  LockRank rank_;
  void (*in_child_)();
};

}  // namespace fastchunk
