#include "cache/chunk_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace fastchunk {
namespace {

class ChunkCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ChunkCache::instance().set_capacity(0);
    ChunkCache::instance().set_capacity(300);
  }
  void TearDown() override { ChunkCache::instance().set_capacity(0); }
  static void put(const char* key, uint8_t value, size_t size) {
    std::vector<uint8_t> data(size, value);
    ChunkCache::instance().put(key, data.data(), size);
  }
};

TEST_F(ChunkCacheTest, HitReturnsACopyOfTheBytes) {
  put("a", 7, 100);
  auto hit = ChunkCache::instance().get("a");
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->size, 100u);
  EXPECT_EQ(hit->data[99], 7);
  EXPECT_EQ(ChunkCache::instance().get("b"), nullptr);
}

TEST_F(ChunkCacheTest, EvictsLeastRecentlyUsedToStayInBudget) {
  put("a", 1, 100);
  put("b", 2, 100);
  put("c", 3, 100);
  ASSERT_NE(ChunkCache::instance().get("a"), nullptr);  // a is now the most recent
  put("d", 4, 100);                                     // evicts b
  EXPECT_LE(ChunkCache::instance().used(), 300u);
  EXPECT_TRUE(ChunkCache::instance().contains("a"));
  EXPECT_FALSE(ChunkCache::instance().contains("b"));
  EXPECT_TRUE(ChunkCache::instance().contains("d"));
  EXPECT_GE(ChunkCache::instance().stats().evictions, 1u);
}

TEST_F(ChunkCacheTest, ChunkLargerThanTheBudgetIsNotKept) {
  put("huge", 9, 301);
  EXPECT_FALSE(ChunkCache::instance().contains("huge"));
  EXPECT_EQ(ChunkCache::instance().used(), 0u);
}

TEST_F(ChunkCacheTest, LoweringTheBudgetShrinksAtOnce) {
  put("a", 1, 100);
  put("b", 2, 100);
  ChunkCache::instance().set_capacity(150);
  EXPECT_LE(ChunkCache::instance().used(), 150u);
  EXPECT_TRUE(ChunkCache::instance().contains("b"));
}

}  // namespace
}  // namespace fastchunk
