#include "common/buffer_pool.h"

#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "testing/resident_pages.h"

namespace fastchunk {
namespace {

constexpr size_t kMiB = size_t(1) << 20;

using testing::resident_pages;

// The VmFlags line of the mapping that holds p (/proc/self/smaps).
std::string vm_flags_of(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

struct PoolTest : ::testing::Test {
  void SetUp() override {
    clear_buffer_pool();
    set_buffer_pool_budget(size_t(256) << 20);
    set_buffer_pool_idle_release(kIdleReleaseSeconds);
  }
  void TearDown() override {
    clear_buffer_pool();
    set_buffer_pool_idle_release(kIdleReleaseSeconds);
  }
};

TEST_F(PoolTest, AFreshBufferIsPopulatedAtOnceWithNormalPages) {
  size_t capacity = 0;
  const size_t n = 3 * kMiB + 12345;
  uint8_t* p = take_buffer(n, capacity);
  ASSERT_NE(p, nullptr);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(capacity % page, 0u);
  EXPECT_LT(capacity, n + page);  // whole pages, not 2 MiB
  EXPECT_EQ(resident_pages(p, capacity), capacity / page);  // no fault left to take
  const std::string flags = vm_flags_of(p);
  EXPECT_NE(flags.find(" nh"), std::string::npos) << flags;  // MADV_NOHUGEPAGE
  EXPECT_EQ(flags.find(" hg"), std::string::npos) << flags;
  give_buffer(p, capacity);
}

TEST_F(PoolTest, ACallerThatAsksGetsAFreshBufferUnpopulated) {
  size_t capacity = 0;
  bool fresh = false;
  uint8_t* p = take_buffer(4 * kMiB, capacity, &fresh);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(fresh);
  EXPECT_EQ(resident_pages(p, capacity), 0u);
  populate(p + kMiB, kMiB);  // a piece, as one of the read threads does
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(resident_pages(p, capacity), kMiB / page);
  give_buffer(p, capacity);
  uint8_t* again = take_buffer(4 * kMiB, capacity, &fresh);
  EXPECT_EQ(again, p);  // reused: not fresh
  EXPECT_FALSE(fresh);
  give_buffer(again, capacity);
}

TEST_F(PoolTest, KeptBytesStayWithinTheBudgetAndDroppedBuffersAreUnmapped) {
  set_buffer_pool_budget(10 * kMiB);
  std::vector<std::pair<uint8_t*, size_t>> taken;
  for (int i = 0; i < 6; ++i) {
    size_t capacity = 0;
    taken.emplace_back(take_buffer(3 * kMiB, capacity), capacity);
  }
  const BufferPoolStats before = buffer_pool_stats();
  for (auto& [p, cap] : taken) give_buffer(p, cap);
  const BufferPoolStats after = buffer_pool_stats();
  EXPECT_LE(after.kept_bytes, 10 * kMiB);
  EXPECT_EQ(after.kept_buffers, 3u);
  EXPECT_EQ(after.released - before.released, 3u);
  EXPECT_EQ(resident_pages(taken[0].first, taken[0].second), 0u);  // given back to the OS
  set_buffer_pool_budget(0);
  EXPECT_EQ(buffer_pool_stats().kept_bytes, 0u);
}

TEST_F(PoolTest, AnEpochOfObjectsFetchedAheadIsKeptWhole) {
  // A Loader's prefetch budget (256 MiB) of 2 MiB objects comes back
  // together: all kept, so the next epoch reads into none that is fresh.
  set_buffer_pool_budget(512 * kMiB);
  std::vector<std::pair<uint8_t*, size_t>> taken(128);
  for (auto& [p, cap] : taken) p = take_buffer(2 * kMiB, cap);
  for (auto& [p, cap] : taken) give_buffer(p, cap);
  EXPECT_EQ(buffer_pool_stats().kept_buffers, taken.size());
  const uint64_t made = buffer_pool_stats().made;
  for (auto& [p, cap] : taken) p = take_buffer(2 * kMiB, cap);
  EXPECT_EQ(buffer_pool_stats().made, made);
  for (auto& [p, cap] : taken) give_buffer(p, cap);
  set_buffer_pool_budget(0);
}

TEST_F(PoolTest, BuffersKeptUnusedAreGivenBackToTheOs) {
  set_buffer_pool_idle_release(0.05);
  size_t capacity = 0;
  uint8_t* p = take_buffer(2 * kMiB, capacity);
  give_buffer(p, capacity);
  EXPECT_EQ(buffer_pool_stats().kept_buffers, 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  size_t small = 0;
  uint8_t* q = take_buffer(8 * kMiB, small);  // any later use of the pool trims it
  EXPECT_NE(q, p);
  EXPECT_EQ(buffer_pool_stats().kept_buffers, 0u);
  give_buffer(q, small);
}

TEST_F(PoolTest, UnpopulatedBuffersAreClaimedOnceAndForgottenWhenGivenBack) {
  size_t capacity = 0;
  bool fresh = false;
  uint8_t* p = take_buffer(4 * kMiB, capacity, &fresh);
  ASSERT_TRUE(fresh);
  note_unpopulated(p, capacity);
  // A read into the middle claims only that part, and only once; the parts
  // before and after stay for the reads that fill them.
  PageRange got = take_unpopulated(p + kMiB, 2 * kMiB);
  EXPECT_EQ(got.data, p + kMiB);
  EXPECT_EQ(got.size, 2 * kMiB);
  EXPECT_EQ(take_unpopulated(p + kMiB, 2 * kMiB).size, 0u);
  got = take_unpopulated(p, capacity);
  EXPECT_EQ(got.data, p);
  EXPECT_EQ(got.size, kMiB);
  got = take_unpopulated(p, capacity);
  EXPECT_EQ(got.data, p + 3 * kMiB);
  EXPECT_EQ(got.size, capacity - 3 * kMiB);
  EXPECT_EQ(take_unpopulated(p, capacity).size, 0u);

  note_unpopulated(p, capacity);
  EXPECT_EQ(take_unpopulated(p + kMiB, kMiB).size, kMiB);  // leaves two parts noted
  give_buffer(p, capacity);  // given back: no read may populate it any more
  EXPECT_EQ(take_unpopulated(p, capacity).size, 0u);
  uint8_t outside[16];
  EXPECT_EQ(take_unpopulated(outside, sizeof outside).size, 0u);
}

TEST_F(PoolTest, PopulatingLeavesWrittenBytesAlone) {
  // Kernels since 5.14 populate without writing; only there may populating
  // run beside a read writing the same pages (api/memory_api).
  utsname u{};
  int major = 0, minor = 0;
  ASSERT_EQ(uname(&u), 0);
  ASSERT_EQ(std::sscanf(u.release, "%d.%d", &major, &minor), 2) << u.release;
  EXPECT_EQ(populate_leaves_contents(), major > 5 || (major == 5 && minor >= 14)) << u.release;
  if (!populate_leaves_contents()) return;
  size_t capacity = 0;
  bool fresh = false;
  uint8_t* p = take_buffer(2 * kMiB, capacity, &fresh);
  ASSERT_TRUE(fresh);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  for (size_t i = 0; i < capacity; i += 2 * page) p[i + 7] = uint8_t(i / page + 1);
  populate(p, capacity);
  EXPECT_EQ(resident_pages(p, capacity), capacity / page);
  for (size_t i = 0; i < capacity; i += page)
    ASSERT_EQ(p[i + 7], (i / page) % 2 ? 0 : uint8_t(i / page + 1)) << i;
  give_buffer(p, capacity);
}

}  // namespace
}  // namespace fastchunk
