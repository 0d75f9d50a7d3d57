#include "cache/shard_index_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cache/byte_lru.h"

namespace fastchunk {
namespace {

std::shared_ptr<const ShardIndex> index_of(size_t entries) {
  auto index = std::make_shared<ShardIndex>();
  index->entries.assign(entries, ShardEntry{0, 1});
  return index;
}

class ShardIndexCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { cache().clear(); }
  void TearDown() override {
    cache().set_capacity(ShardIndexCache::kDefaultCapacity);
    cache().clear();
  }
  static ShardIndexCache& cache() { return ShardIndexCache::instance(); }
};

TEST_F(ShardIndexCacheTest, KeysTellStoresKeysAndVersionsApart) {
  const std::string a = ShardIndexCache::key_of("s3://host-a/bucket", "c/0", "");
  const std::string b = ShardIndexCache::key_of("s3://host-b/bucket", "c/0", "");
  const std::string a2 = ShardIndexCache::key_of("s3://host-a/bucket", "c/0", "10:5:1");
  EXPECT_NE(a, b);
  EXPECT_NE(a, a2);
  cache().put(a, index_of(4));
  EXPECT_NE(cache().get(a), nullptr);
  EXPECT_EQ(cache().get(b), nullptr);
  EXPECT_EQ(cache().get(a2), nullptr);
}

TEST_F(ShardIndexCacheTest, BoundedByBytesNotByCount) {
  const size_t one = index_of(1000)->nbytes();  // about 16 kB each
  cache().set_capacity(3 * one + 200);
  for (int i = 0; i < 10; ++i) cache().put("k" + std::to_string(i), index_of(1000));
  EXPECT_LE(cache().used(), 3 * one + 200);
  EXPECT_LE(cache().entries(), 3u);
  EXPECT_NE(cache().get("k9"), nullptr);
  EXPECT_EQ(cache().get("k0"), nullptr);
  // Many small indexes fit where few large ones did.
  for (int i = 0; i < 100; ++i) cache().put("small" + std::to_string(i), index_of(1));
  EXPECT_GT(cache().entries(), 50u);
  EXPECT_LE(cache().used(), 3 * one + 200);
}

TEST_F(ShardIndexCacheTest, IndexLargerThanTheBudgetIsNotKept) {
  cache().set_capacity(1000);
  cache().put("huge", index_of(1000));
  EXPECT_EQ(cache().get("huge"), nullptr);
  EXPECT_EQ(cache().used(), 0u);
}

TEST(ByteLru, KeepsTheFirstValueOfAKeyAndErases) {
  ByteLru<int> lru(100);
  lru.put("a", std::make_shared<int>(1), 10);
  lru.put("a", std::make_shared<int>(2), 10);
  EXPECT_EQ(*lru.get("a"), 1);
  EXPECT_EQ(lru.used(), 10u);
  lru.erase("a");
  EXPECT_FALSE(lru.contains("a"));
  EXPECT_EQ(lru.used(), 0u);
}

}  // namespace
}  // namespace fastchunk
