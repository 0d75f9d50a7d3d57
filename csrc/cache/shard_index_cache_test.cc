#include "cache/shard_index_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "cache/byte_lru.h"
#include "testing/test_arrays.h"

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

ArraySpec spec_of(const std::string& store_id, std::vector<int64_t> per) {
  ArraySpec spec;
  spec.store_id = store_id;
  spec.sharded = true;
  spec.shard.chunks_per_shard = std::move(per);
  testing::crc32c_index(spec.shard);
  return spec;
}

TEST_F(ShardIndexCacheTest, KeysTellStoresKeysVersionsAndLayoutsApart) {
  const ArraySpec host_a = spec_of("s3|http://host-a|bucket|", {2, 2});
  const std::string a = ShardIndexCache::key_of(host_a, "c/0", "");
  const std::string b = ShardIndexCache::key_of(spec_of("s3|http://host-b|bucket|", {2, 2}),
                                                "c/0", "");
  const std::string a2 = ShardIndexCache::key_of(host_a, "c/0", "10:5:1");
  const std::string a3 = ShardIndexCache::key_of(spec_of("s3|http://host-a|bucket|", {4, 1}),
                                                 "c/0", "");
  EXPECT_NE(a, b);
  EXPECT_NE(a, a2);
  EXPECT_NE(a, a3);  // the metadata now says another shard shape
  cache().put(a, index_of(4));
  EXPECT_NE(cache().get(a), nullptr);
  EXPECT_EQ(cache().get(b), nullptr);
  EXPECT_EQ(cache().get(a2), nullptr);
  EXPECT_EQ(cache().get(a3), nullptr);
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
