#include "engine/shard_index.h"

#include <gtest/gtest.h>

#include <string>

#include "cache/shard_index_cache.h"
#include "common/error.h"
#include "io/fetched_source.h"
#include "io/local_source.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

using testing::index_bytes;
using testing::kEmpty;
using testing::shard_object;

ShardSpec two_by_two(bool at_start = false) {
  ArraySpec spec = testing::raw_spec({4, 4}, {2, 2});
  testing::shard(spec, {2, 2}, at_start);
  return spec.shard;
}

ByteView view(const std::string& s) {
  return ByteView{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(ShardIndex, DecodesEntriesAndMarksEmptyOnes) {
  const std::string object = shard_object({"aaaa", "", "bbbb", "cccc"});
  const ShardSpec shard = two_by_two();
  const std::string stored = object.substr(object.size() - shard_index_nbytes(shard));
  const ShardIndex index = decode_shard_index(shard, view(stored), object.size());
  ASSERT_EQ(index.entries.size(), 4u);
  EXPECT_EQ(index.entries[0].offset, 0u);
  EXPECT_EQ(index.entries[0].nbytes, 4u);
  EXPECT_TRUE(index.entries[1].empty());
  EXPECT_EQ(index.entries[3].offset, 8u);
}

TEST(ShardIndex, AllOnesSizeIsEmptyWhateverTheOffset) {
  // zarrita 0.2.7 writes (N, 2^64-1) for chunks outside the array.
  const std::vector<ShardEntry> entries = {{0, 4}, {1234, UINT64_MAX}, kEmpty, {4, 4}};
  const std::string object = "aaaabbbb" + index_bytes(entries);
  const ShardIndex index = decode_shard_index(two_by_two(), view(index_bytes(entries)),
                                              object.size());
  EXPECT_TRUE(index.entries[1].empty());
  EXPECT_TRUE(index.entries[2].empty());
  EXPECT_FALSE(index.entries[3].empty());
}

TEST(ShardIndex, RejectsEveryOtherEntryOutsideTheObject) {
  const uint64_t size = 8 + 16 * 4 + 4;
  for (const ShardEntry& bad : {ShardEntry{UINT64_MAX, 4}, ShardEntry{size, 1},
                                ShardEntry{4, size}, ShardEntry{UINT64_MAX - 1, 2},
                                ShardEntry{1, UINT64_MAX - 1}}) {
    const std::vector<ShardEntry> entries = {{0, 4}, bad, kEmpty, kEmpty};
    EXPECT_THROW(decode_shard_index(two_by_two(), view(index_bytes(entries)), size), Error)
        << bad.offset << " " << bad.nbytes;
  }
}

TEST(ShardIndex, ChecksumMismatchIsADecodeError) {
  std::string stored = index_bytes({{0, 4}, kEmpty, kEmpty, kEmpty});
  stored[3] ^= 1;
  try {
    decode_shard_index(two_by_two(), view(stored), 1000);
    FAIL() << "a corrupt index was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDecode);
  }
}

TEST(ShardIndex, AnIndexTooShortOrAGridTooLargeAllocatesNothing) {
  ShardSpec shard = two_by_two();
  const std::string stored = index_bytes({{0, 4}, kEmpty, kEmpty, kEmpty});
  EXPECT_THROW(decode_shard_index(shard, view(stored.substr(0, 40)), 1000), Error);
  shard.chunks_per_shard = {int64_t(1) << 40, int64_t(1) << 40};  // 2^80 entries
  EXPECT_THROW(decode_shard_index(shard, view(stored), 1000), Error);
  shard.chunks_per_shard = {-1, 4};
  EXPECT_THROW(decode_shard_index(shard, view(stored), 1000), Error);
}

TEST(ShardIndex, ReadsAtTheStartOrTheEndThroughASource) {
  for (bool at_start : {false, true}) {
    const std::string object = shard_object({"xy", "", "", "z"}, at_start);
    FetchedSource source;
    source.provide("s", ByteRange::whole(), view(object), object.size());
    const auto index = read_shard_index(two_by_two(at_start), source, "s");
    ASSERT_NE(index, nullptr);
    const ShardEntry e = index->entries[3];
    EXPECT_EQ(object.substr(e.offset, e.nbytes), "z") << at_start;
    source.provide_missing("gone");
    EXPECT_EQ(read_shard_index(two_by_two(at_start), source, "gone"), nullptr);
  }
}

TEST(ShardIndex, ObjectShorterThanItsIndexIsADecodeError) {
  FetchedSource source;
  const std::string tiny = "abc";
  source.provide("s", ByteRange::whole(), view(tiny), tiny.size());
  EXPECT_THROW(read_shard_index(two_by_two(), source, "s"), Error);
}

class LoadShardIndexes : public ::testing::Test {
 protected:
  void SetUp() override {
    ShardIndexCache::instance().clear();
    spec_ = testing::raw_spec({4, 4}, {2, 2});
    testing::shard(spec_, {2, 2});
    spec_.store_id = "file://" + dir_.path();
  }
  void TearDown() override { ShardIndexCache::instance().clear(); }
  testing::TempDir dir_;
  ArraySpec spec_;
};

TEST_F(LoadShardIndexes, CachesAndNeverServesAStaleIndexOfARewrittenFile) {
  LocalSource source(dir_.path());
  dir_.write("a/c/0/0", shard_object({"aaaa", "", "", ""}));
  auto first = load_shard_indexes(spec_, source, {"a/c/0/0", "a/c/0/1"}, 1);
  ASSERT_NE(first[0], nullptr);
  EXPECT_EQ(first[1], nullptr);  // missing shard
  EXPECT_EQ(first[0]->entries[0].nbytes, 4u);
  auto again = load_shard_indexes(spec_, source, {"a/c/0/0"}, 1);
  EXPECT_EQ(again[0].get(), first[0].get());  // from the cache
  EXPECT_GE(ShardIndexCache::instance().stats().hits, 1u);

  // Same key, new contents and size: the cache must not answer with the old index.
  dir_.write("a/c/0/0", shard_object({"", "bbbbbb", "", ""}));
  auto fresh = load_shard_indexes(spec_, source, {"a/c/0/0"}, 1);
  ASSERT_NE(fresh[0], nullptr);
  EXPECT_TRUE(fresh[0]->entries[0].empty());
  EXPECT_EQ(fresh[0]->entries[1].nbytes, 6u);
}

TEST_F(LoadShardIndexes, ErrorsNameTheStoreAndTheShard) {
  LocalSource source(dir_.path());
  std::string object = shard_object({"aaaa", "", "", ""});
  object[object.size() - 1] ^= 0xFF;  // checksum
  dir_.write("a/c/1/1", object);
  try {
    load_shard_indexes(spec_, source, {"a/c/1/1"}, 2);
    FAIL() << "corrupt index accepted";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("test-store"), std::string::npos) << msg;
    EXPECT_NE(msg.find("a/c/1/1"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace fastchunk
