#include "common/fork_safe_mutex.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cache/chunk_cache.h"
#include "cache/shard_index_cache.h"

namespace fastchunk {
namespace {

std::atomic<int> g_hook_saw_held{-1};
ForkSafeMutex* g_test_lock = nullptr;

// Runs in a forked child while every lock is still held.
void note_child_hook() { g_hook_saw_held.store(g_test_lock->try_lock() ? 0 : 1); }

ForkSafeMutex* const g_test_lock_made = g_test_lock =
    new ForkSafeMutex(LockRank::kTestOuter, note_child_hook);
ForkSafeMutex* const g_inner_lock = new ForkSafeMutex(LockRank::kTestInner);

// fork() waits while another thread holds a registered lock, and the child
// finds the lock free: nothing it guards can be half-updated there.
TEST(ForkSafety, ForkWaitsForAHeldLockAndTheChildFindsItFree) {
  std::atomic<bool> held{false};
  std::thread holder([&] {
    g_test_lock->lock();
    held.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    g_test_lock->unlock();
  });
  while (!held.load()) std::this_thread::yield();
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(g_test_lock->try_lock() ? 0 : 3);
  const auto waited = std::chrono::steady_clock::now() - start;
  holder.join();
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_GE(waited, std::chrono::milliseconds(100));
  ASSERT_TRUE(g_test_lock->try_lock());  // the parent's copy is free again too
  g_test_lock->unlock();
}

// Forks over and over while threads hammer both caches (each operation takes
// the cache's lock); every child must find the locks free and the LRU lists
// consistent, and use both caches at once.
TEST(ForkSafety, ChildrenForkedWhileThreadsUseTheCachesCanUseThem) {
  ChunkCache& chunks = ChunkCache::instance();
  ShardIndexCache& indexes = ShardIndexCache::instance();
  chunks.set_capacity(64 << 10);
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w)
    threads.emplace_back([&, w] {
      std::vector<uint8_t> data(1000, uint8_t(w));
      for (uint64_t i = 0; !stop.load(); ++i) {
        const std::string key = std::to_string(w) + ":" + std::to_string(i % 200);
        chunks.put(key, data.data(), data.size());
        chunks.get(key);
        auto index = std::make_shared<ShardIndex>();
        index->entries.resize(8);
        indexes.put(key, index);
        indexes.get(key);
      }
    });
  for (int round = 0; round < 50; ++round) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // A child: alarm() ends a hang with a signal the parent sees.
      alarm(20);
      std::vector<uint8_t> data(100, 7);
      chunks.put("child", data.data(), data.size());
      const bool ok = chunks.get("child") != nullptr && chunks.used() <= chunks.capacity();
      chunks.clear();
      indexes.put("child", std::make_shared<ShardIndex>());
      _exit(ok && indexes.get("child") != nullptr ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child " << round << " died (signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
    ASSERT_EQ(WEXITSTATUS(status), 0) << "child " << round;
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  chunks.set_capacity(0);
  indexes.clear();
}

// The child's hook runs before the locks are released (it may drop what the
// locks guard), and the child finds them free afterwards.
TEST(ForkSafety, TheChildHookRunsWhileTheLocksAreHeld) {
  (void)g_test_lock_made;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const bool free_after = g_test_lock->try_lock();
    _exit(g_hook_saw_held.load() == 1 && free_after ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Locks nest only in rank order: inner inside outer is fine, outer inside
// inner ends the process (it could deadlock a fork one day).
TEST(ForkSafetyDeathTest, TakingALockAgainstTheRankOrderEndsTheProcess) {
  {
    std::lock_guard<ForkSafeMutex> outer(*g_test_lock);
    std::lock_guard<ForkSafeMutex> inner(*g_inner_lock);
  }
  EXPECT_DEATH(
      {
        std::lock_guard<ForkSafeMutex> inner(*g_inner_lock);
        std::lock_guard<ForkSafeMutex> outer(*g_test_lock);
      },
      "lock order violated");
}

// A lock that goes away leaves the table: fork() never touches freed memory.
TEST(ForkSafety, ALockThatIsDestroyedIsNotTakenByFork) {
  { ForkSafeMutex scoped(LockRank::kTestInner); }
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
}

}  // namespace
}  // namespace fastchunk
