#include "engine/output_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "common/buffer_pool.h"
#include "testing/resident_pages.h"

namespace fastchunk {
namespace {

constexpr size_t kMiB = size_t(1) << 20;

using testing::resident_pages;

TEST(PopulateAlongside, PopulatesANotedOutputWhileTheCallerWritesIt) {
  if (!populate_leaves_contents()) GTEST_SKIP() << "kernel without MADV_POPULATE_WRITE";
  set_num_threads(2);
  size_t capacity = 0;
  bool fresh = false;
  uint8_t* p = take_buffer(8 * kMiB, capacity, &fresh);
  ASSERT_TRUE(fresh);
  note_unpopulated(p, capacity);
  {
    PopulateAlongside pages(p, capacity, 2);
    for (size_t i = 0; i < capacity; ++i) p[i] = uint8_t(i * 31 + 7);  // the "decoding"
  }
  EXPECT_EQ(resident_pages(p, capacity), capacity / size_t(sysconf(_SC_PAGESIZE)));
  for (size_t i = 0; i < capacity; ++i) ASSERT_EQ(p[i], uint8_t(i * 31 + 7)) << i;
  EXPECT_EQ(take_unpopulated(p, capacity).size, 0u);  // claimed
  give_buffer(p, capacity);
  set_num_threads(0);
}

TEST(PopulateAlongside, LeavesOtherMemoryAlone) {
  set_num_threads(2);
  std::vector<uint8_t> plain(3 * kMiB, 5);
  { PopulateAlongside pages(plain.data(), plain.size(), 2); }
  EXPECT_EQ(plain[kMiB], 5);
  { PopulateAlongside pages(nullptr, 0, 2); }
  set_num_threads(0);
}

}  // namespace
}  // namespace fastchunk
