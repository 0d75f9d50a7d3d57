#include "engine/read_plan.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "cache/chunk_cache.h"
#include "cache/shard_index_cache.h"
#include "cache/stored_cache.h"
#include "common/error.h"
#include "io/local_source.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

// A 4 x 6 array of bytes, value r * 6 + c, in 2 x 2 chunks (grid 2 x 3).
constexpr int64_t kRows = 4, kCols = 6;
uint8_t value(int64_t r, int64_t c) { return uint8_t(r * kCols + c); }

std::string chunk_bytes(int64_t ci, int64_t cj) {
  std::string s;
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 2; ++c) s += char(value(ci * 2 + r, cj * 2 + c));
  return s;
}

ByteView view(const std::string& s) {
  return ByteView{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The objects of the array: chunk keys, or shard keys (shards of 2 x 2
// chunks: grid 1 x 2) when sharded. `skip` chunks (ci, cj) are not stored.
std::map<std::string, std::string> objects(const ArraySpec& spec,
                                           const std::vector<std::pair<int, int>>& skip = {}) {
  auto stored = [&](int64_t ci, int64_t cj) {
    for (auto [a, b] : skip)
      if (a == ci && b == cj) return false;
    return true;
  };
  std::map<std::string, std::string> out;
  if (!spec.sharded) {
    for (int64_t ci = 0; ci < 2; ++ci)
      for (int64_t cj = 0; cj < 3; ++cj)
        if (stored(ci, cj)) {
          const int64_t coords[2] = {ci, cj};
          out[storage_key(spec, coords, spec.keys.separator)] = chunk_bytes(ci, cj);
        }
    return out;
  }
  for (int64_t sj = 0; sj < 2; ++sj) {
    std::vector<std::string> inner;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t cj = sj * 2 + j;
        inner.push_back(cj < 3 && stored(i, cj) ? chunk_bytes(i, cj) : "");
      }
    const int64_t coords[2] = {0, sj};
    out[storage_key(spec, coords, '/')] =
        testing::shard_object(inner, spec.shard.index_at_start);
  }
  return out;
}

struct Sel {
  std::vector<int64_t> rows, cols;
  Selection get() const {
    return Selection{{AxisSelection::table(rows.data(), int64_t(rows.size())),
                      AxisSelection::table(cols.data(), int64_t(cols.size()))}};
  }
  std::vector<uint8_t> expected(const std::vector<std::pair<int, int>>& skip = {}) const {
    std::vector<uint8_t> out;
    for (int64_t r : rows)
      for (int64_t c : cols) {
        bool gone = false;
        for (auto [a, b] : skip) gone = gone || (r / 2 == a && c / 2 == b);
        out.push_back(gone ? 0xEE : value(r, c));
      }
    return out;
  }
};

const Sel kAll{{0, 1, 2, 3}, {0, 1, 2, 3, 4, 5}};

// Answers every request from `store` (a fake object store) and counts them.
// `version`: what the server reports with every answer ("" for nothing).
struct Server {
  const std::map<std::string, std::string>& store;
  std::string version;
  std::vector<ByteRequest> seen;
  void answer(ReadPlan& plan, const ByteRequest& r) {
    seen.push_back(r);
    auto it = store.find(r.key);
    if (it == store.end()) return plan.provide_missing(r);
    const std::string& o = it->second;
    switch (r.range.kind) {
      case ByteRange::Kind::kWhole:
        return plan.provide(r, view(o), o.size(), version);
      case ByteRange::Kind::kSlice: {
        // Like S3: a range past the end brings what there is.
        const uint64_t n = std::min<uint64_t>(r.range.length, o.size() - std::min<uint64_t>(
                                                                  r.range.offset, o.size()));
        return plan.provide(r, ByteView{view(o).data + std::min<uint64_t>(r.range.offset, o.size()), n},
                            kUnknownObjectSize, version);
      }
      case ByteRange::Kind::kSuffix:
        return plan.provide(r, ByteView{view(o).data + o.size() - r.range.length, r.range.length},
                            o.size(), version);
    }
  }
  // Rounds of pending / provide / decode_ready until done; returns the rounds.
  int serve(ReadPlan& plan, uint8_t* out) {
    int rounds = 0;
    while (plan.decode_ready(out) > 0) {
      const auto requests = plan.pending();
      if (requests.empty()) break;
      ++rounds;
      for (const ByteRequest& r : requests) answer(plan, r);
    }
    plan.finish(out);
    return rounds;
  }
};

class ReadPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ChunkCache::instance().set_capacity(0);
    ShardIndexCache::instance().clear();
  }
  void TearDown() override {
    ChunkCache::instance().set_capacity(0);
    ChunkCache::instance().clear();
    ShardIndexCache::instance().clear();
    StoredCache::instance().set_capacity(0);
    StoredCache::instance().clear();
  }
  ArraySpec spec_ = testing::raw_spec({kRows, kCols}, {2, 2});
};

TEST_F(ReadPlanTest, ChunkedReadAsksForEachObjectOnceAndFillsTheMissingOnes) {
  const auto store = objects(spec_, {{1, 2}});
  const Sel sel{{3, 0, 3}, {5, 1, 4}};
  ReadPlan plan(spec_, sel.get());
  const auto requests = plan.pending();
  ASSERT_EQ(requests.size(), 4u);  // chunks (1,2) (1,0) (0,2) (0,0): one request each
  for (const ByteRequest& r : requests) EXPECT_EQ(r.range.kind, ByteRange::Kind::kWhole);
  EXPECT_EQ(plan.pending().size(), 4u);  // asking again names the same requests
  std::vector<uint8_t> out(plan.output_nbytes());
  Server server{store};
  EXPECT_EQ(server.serve(plan, out.data()), 1);
  EXPECT_EQ(out, sel.expected({{1, 2}}));
}

TEST_F(ReadPlanTest, LocalExecuteMatchesTheFetchedRead) {
  testing::shard(spec_, {2, 2});
  testing::TempDir dir;
  for (const auto& [key, bytes] : objects(spec_, {{0, 1}})) dir.write(key, bytes);
  const Sel sel{{2, 1, 2}, {0, 5, 3, 2}};
  ReadPlan plan(spec_, sel.get(), 2);
  std::vector<uint8_t> out(plan.output_nbytes(), 0);
  LocalSource source(dir.path());
  plan.execute(source, out.data());
  EXPECT_EQ(out, sel.expected({{0, 1}}));
}

TEST_F(ReadPlanTest, ShardedReadFetchesIndexesFirstThenCoalescedChunkRanges) {
  testing::shard(spec_, {2, 2});
  const auto store = objects(spec_);
  const Sel sel{{0, 3}, {0, 1, 4}};  // inner chunks (0,0) (1,0) of shard 0, (0,0) (1,0) of shard 1
  ReadPlan plan(spec_, sel.get());
  const auto first = plan.pending();
  ASSERT_EQ(first.size(), 2u);
  for (const ByteRequest& r : first) {
    EXPECT_EQ(r.range.kind, ByteRange::Kind::kSuffix);
    EXPECT_EQ(r.range.length, shard_index_nbytes(spec_.shard));
  }
  Server server{store};
  for (const ByteRequest& r : first) server.answer(plan, r);
  const auto second = plan.pending();
  ASSERT_EQ(second.size(), 2u);  // one coalesced range per shard
  for (const ByteRequest& r : second) EXPECT_EQ(r.range.kind, ByteRange::Kind::kSlice);
  EXPECT_EQ(second[0].range.length, 12u);  // chunks 0..2 of shard 0, 4 bytes each, one gap
  std::vector<uint8_t> out(plan.output_nbytes());
  server.serve(plan, out.data());
  EXPECT_EQ(out, sel.expected());

  // A second read finds the indexes in the shard-index cache: no index requests.
  ReadPlan again(spec_, sel.get());
  for (const ByteRequest& r : again.pending()) EXPECT_EQ(r.range.kind, ByteRange::Kind::kSlice);
}

TEST_F(ReadPlanTest, WithoutCoalescingEachInnerChunkIsItsOwnRequest) {
  testing::shard(spec_, {2, 2});
  const auto store = objects(spec_);
  const Sel sel{{0, 3}, {0, 1, 4}};
  ReadPlan plan(spec_, sel.get());
  plan.set_coalesce(false);
  Server server{store};
  for (const ByteRequest& r : plan.pending()) server.answer(plan, r);  // the indexes
  const auto chunks = plan.pending();
  ASSERT_EQ(chunks.size(), 4u);  // (0,0) (1,0) of each shard, none merged
  for (const ByteRequest& r : chunks) {
    EXPECT_EQ(r.range.kind, ByteRange::Kind::kSlice);
    EXPECT_EQ(r.range.length, 4u);
  }
  std::vector<uint8_t> out(plan.output_nbytes());
  server.serve(plan, out.data());
  EXPECT_EQ(out, sel.expected());
}

TEST_F(ReadPlanTest, AShardRewrittenSinceItsIndexWasCachedIsReadThroughItsNewIndex) {
  // A long-running process reads a sharded store, the shards are rewritten
  // with other layouts, and it reads them again: the cached indexes (keyed
  // by the versions the store learned) describe the old objects.
  testing::shard(spec_, {2, 2});
  const auto before = objects(spec_);
  const std::vector<std::pair<int, int>> gone = {{0, 0}, {1, 2}};
  const auto after = objects(spec_, gone);  // other offsets in both shards
  std::vector<std::string> keys;
  for (const auto& [key, bytes] : before) keys.push_back(key);
  const std::vector<std::string> v1(keys.size(), "10:\"one\"");
  {
    Server server{before, v1[0]};
    ReadPlan plan(spec_, kAll.get());
    plan.know_versions(keys, std::vector<std::string>(keys.size()));  // not learned yet
    std::vector<uint8_t> out(plan.output_nbytes());
    server.serve(plan, out.data());
    EXPECT_EQ(out, kAll.expected());
  }
  {  // Known versions find the cached indexes: no index requests.
    Server server{before, v1[0]};
    ReadPlan plan(spec_, kAll.get());
    plan.know_versions(keys, v1);
    for (const ByteRequest& r : plan.pending()) EXPECT_EQ(r.range.kind, ByteRange::Kind::kSlice);
  }
  Server server{after, "12:\"two\""};
  ReadPlan plan(spec_, kAll.get());
  plan.know_versions(keys, v1);  // what the store knew before the rewrite
  std::vector<uint8_t> out(plan.output_nbytes());
  server.serve(plan, out.data());
  EXPECT_EQ(out, kAll.expected(gone));
  int index_requests = 0;
  for (const ByteRequest& r : server.seen) index_requests += r.range.kind == ByteRange::Kind::kSuffix;
  EXPECT_EQ(index_requests, 2);  // each shard's new index, once
  // The new indexes are cached under the new version, the old ones are gone.
  ReadPlan again(spec_, kAll.get());
  again.know_versions(keys, v1);
  for (const ByteRequest& r : again.pending()) EXPECT_EQ(r.range.kind, ByteRange::Kind::kSuffix);
}

TEST_F(ReadPlanTest, AnIndexCachedUnderAnotherShardLayoutIsNeverUsed) {
  // Found by fuzz_read_selection: the same store and shard keys, read first
  // with 2 x 2 inner chunks per shard, then (the metadata rewritten) 2 x 3.
  testing::shard(spec_, {2, 2});
  const auto store = objects(spec_);
  Server server{store};
  {
    ReadPlan plan(spec_, kAll.get());
    std::vector<uint8_t> out(plan.output_nbytes());
    server.serve(plan, out.data());
  }
  ArraySpec wider = testing::raw_spec({kRows, kCols}, {2, 2});
  testing::shard(wider, {2, 3});
  const Sel sel{{3}, {5}};  // inner chunk 5 of shard (0, 0): beyond a 4-entry index
  ReadPlan plan(wider, sel.get());
  for (const ByteRequest& r : plan.pending()) EXPECT_EQ(r.range.kind, ByteRange::Kind::kSuffix);
}

TEST_F(ReadPlanTest, FarApartChunksOfAShardAreSeparateRequests) {
  testing::shard(spec_, {2, 2});
  // Inner chunks 0 and 2 of shard 0, with 1 MiB of other bytes between them.
  const std::string big(1 << 20, 'x');
  std::map<std::string, std::string> store = objects(spec_);
  store["a/c/0/0"] =
      testing::shard_object({chunk_bytes(0, 0), big, chunk_bytes(1, 0), chunk_bytes(1, 1)});
  const Sel sel{{0, 3}, {0}};
  ReadPlan plan(spec_, sel.get());
  Server server{store};
  for (const ByteRequest& r : plan.pending()) server.answer(plan, r);
  const auto ranges = plan.pending();
  ASSERT_EQ(ranges.size(), 2u);
  EXPECT_EQ(ranges[0].range.length, 4u);
  EXPECT_EQ(ranges[1].range.length, 4u);
  std::vector<uint8_t> out(plan.output_nbytes());
  server.serve(plan, out.data());
  EXPECT_EQ(out, sel.expected());
}

TEST_F(ReadPlanTest, IndexAtTheStartAsksForItsBytesAndTheObjectSize) {
  testing::shard(spec_, {2, 2}, /*at_start=*/true);
  const auto store = objects(spec_);
  const Sel sel{{1}, {1, 2}};
  ReadPlan plan(spec_, sel.get());
  const auto first = plan.pending();
  ASSERT_EQ(first.size(), 2u);  // one shard: its first bytes, and its size
  EXPECT_EQ(first[0].range, ByteRange::slice(0, shard_index_nbytes(spec_.shard)));
  EXPECT_EQ(first[1].range, ByteRange::suffix(0));
  std::vector<uint8_t> out(plan.output_nbytes());
  Server server{store};
  server.serve(plan, out.data());
  EXPECT_EQ(out, sel.expected());
}

TEST_F(ReadPlanTest, NestedV2KeyIsAskedForWhenTheDottedOneIsMissing) {
  spec_.keys.prefix = "";
  spec_.keys.separator = '.';
  spec_.keys.nested_fallback = true;
  std::map<std::string, std::string> store;
  store["a/1/2"] = chunk_bytes(1, 2);  // written nested; the metadata does not say so
  const Sel sel{{2, 3}, {4, 5}};
  ReadPlan plan(spec_, sel.get());
  Server server{store};
  std::vector<uint8_t> out(plan.output_nbytes());
  EXPECT_EQ(server.serve(plan, out.data()), 2);
  EXPECT_EQ(out, sel.expected());
  ASSERT_EQ(server.seen.size(), 2u);
  EXPECT_EQ(server.seen[0].key, "a/1.2");
  EXPECT_EQ(server.seen[1].key, "a/1/2");
}

TEST_F(ReadPlanTest, DecodeReadyRunsEachTaskOnceAndReleasesFinishedObjects) {
  const auto store = objects(spec_);
  ReadPlan plan(spec_, kAll.get());
  std::vector<uint8_t> out(plan.output_nbytes(), 0);
  const auto requests = plan.pending();
  ASSERT_EQ(requests.size(), 6u);
  Server server{store};
  for (size_t i = 0; i < 3; ++i) server.answer(plan, requests[i]);
  EXPECT_EQ(plan.decode_ready(out.data()), 3);
  EXPECT_EQ(plan.take_released().size(), 3u);
  EXPECT_EQ(plan.pending().size(), 3u);  // only what has not arrived
  // Overwrite what is decoded: decoding again must not touch it.
  for (auto& b : out) b = 0x55;
  EXPECT_EQ(plan.decode_ready(out.data()), 3);
  for (size_t i = 3; i < 6; ++i) server.answer(plan, requests[i]);
  EXPECT_EQ(plan.decode_ready(out.data()), 0);
  const auto expected = kAll.expected();
  size_t untouched = 0;
  for (size_t i = 0; i < out.size(); ++i) untouched += out[i] == 0x55;
  EXPECT_EQ(untouched, 12u);  // the first three chunks' 12 bytes were decoded once only
  plan.finish(out.data());
}

TEST_F(ReadPlanTest, CachedChunksNeedNoBytesAndEvictedOnesAreFetchedAfterAll) {
  ChunkCache::instance().set_capacity(1 << 20);
  const auto store = objects(spec_);
  Server server{store};
  {
    ReadPlan warm(spec_, kAll.get());
    std::vector<uint8_t> out(warm.output_nbytes());
    server.serve(warm, out.data());
  }
  ReadPlan plan(spec_, kAll.get());
  EXPECT_TRUE(plan.pending().empty());
  ChunkCache::instance().clear();  // evicted between planning and copying
  std::vector<uint8_t> out(plan.output_nbytes());
  EXPECT_EQ(plan.decode_ready(out.data()), 6);
  EXPECT_EQ(plan.pending().size(), 6u);
  server.serve(plan, out.data());
  EXPECT_EQ(out, kAll.expected());
}

TEST_F(ReadPlanTest, FinishNamesAChunkWhoseBytesNeverCame) {
  ReadPlan plan(spec_, kAll.get());
  std::vector<uint8_t> out(plan.output_nbytes());
  try {
    plan.finish(out.data());
    FAIL() << "finished without bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFetched);
    EXPECT_NE(std::string(e.what()).find("a/c/0/0"), std::string::npos) << e.what();
  }
}

TEST_F(ReadPlanTest, ShortRangedReadIsADecodeErrorNamingTheKey) {
  testing::shard(spec_, {2, 2});
  const auto store = objects(spec_);
  const Sel sel{{0}, {0}};
  ReadPlan plan(spec_, sel.get());
  Server server{store};
  for (const ByteRequest& r : plan.pending()) server.answer(plan, r);
  const auto ranges = plan.pending();
  ASSERT_EQ(ranges.size(), 1u);
  const std::string two = "ab";
  try {
    plan.provide(ranges[0], view(two), kUnknownObjectSize);
    FAIL() << "a short read was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDecode);
    EXPECT_NE(std::string(e.what()).find("a/c/0/0"), std::string::npos) << e.what();
  }
}

// The compressed cache: a second remote read of the same chunks asks for
// nothing (the plan provides their stored bytes to itself), chunked and sharded.
TEST_F(ReadPlanTest, StoredBytesInTheCompressedCacheNeedNoRequests) {
  for (bool sharded : {false, true}) {
    ArraySpec spec = testing::raw_spec({kRows, kCols}, {2, 2});
    if (sharded) testing::shard(spec, {2, 2});
    StoredCache::instance().clear();
    StoredCache::instance().set_capacity(1 << 20);
    const auto store = objects(spec, {{1, 2}});
    const Sel sel{{3, 0, 3}, {5, 1, 4}};
    Server server{store};
    {
      ReadPlan plan(spec, sel.get());
      std::vector<uint8_t> out(plan.output_nbytes());
      server.serve(plan, out.data());
      EXPECT_EQ(out, sel.expected({{1, 2}}));
    }
    EXPECT_GT(StoredCache::instance().entries(), 0u) << sharded;
    const LruStats before = StoredCache::instance().stats();
    server.seen.clear();
    ReadPlan plan(spec, sel.get());
    std::vector<uint8_t> out(plan.output_nbytes(), 0);
    server.serve(plan, out.data());
    EXPECT_EQ(out, sel.expected({{1, 2}})) << sharded;
    for (const ByteRequest& r : server.seen)  // the missing chunk and (sharded) indexes only
      EXPECT_TRUE(r.range.kind != ByteRange::Kind::kSlice || !sharded) << r.key;
    if (!sharded) {
      ASSERT_EQ(server.seen.size(), 1u);  // chunk (1, 2) is not stored: asked again
      EXPECT_EQ(server.seen[0].key, "a/c/1/2");
    }
    EXPECT_EQ(StoredCache::instance().stats().hits - before.hits, 3u) << sharded;
  }
}

TEST_F(ReadPlanTest, LocalReadsKeepCopiedBytesAndCheckTheFileVersion) {
  testing::TempDir dir;
  for (const auto& [key, bytes] : objects(spec_)) dir.write(key, bytes);
  StoredCache::instance().set_capacity(1 << 20);
  LocalSource source(dir.path());  // these tiny chunks are read with pread: kept
  std::vector<uint8_t> out(size_t(kRows * kCols));
  read_selection(spec_, source, kAll.get(), out.data());
  EXPECT_EQ(out, kAll.expected());
  EXPECT_EQ(StoredCache::instance().entries(), 6u);
  const LruStats before = StoredCache::instance().stats();
  read_selection(spec_, source, kAll.get(), out.data());
  EXPECT_EQ(StoredCache::instance().stats().hits - before.hits, 6u);
  // A rewritten chunk file is read again, not served from the cache.
  std::string changed = chunk_bytes(0, 0);
  changed[0] = char(200);
  dir.write("a/c/0/0", changed + "");  // same size; a new mtime (or inode) makes a new version
  ::utimensat(AT_FDCWD, (dir.path() + "/a/c/0/0").c_str(), nullptr, 0);
  struct timespec later[2] = {{0, UTIME_OMIT}, {2000000000, 0}};
  ::utimensat(AT_FDCWD, (dir.path() + "/a/c/0/0").c_str(), later, 0);
  read_selection(spec_, source, kAll.get(), out.data());
  EXPECT_EQ(out[0], 200);
}

TEST_F(ReadPlanTest, SelectionsOutsideTheArrayAreRejected) {
  const std::vector<int64_t> rows = {0, 4}, cols = {0}, negative = {-1};
  const auto table = [](const std::vector<int64_t>& v) {
    return AxisSelection::table(v.data(), int64_t(v.size()));
  };
  EXPECT_THROW(ReadPlan(spec_, Selection{{table(rows), table(cols)}}), Error);
  EXPECT_THROW(ReadPlan(spec_, Selection{{table(negative), table(cols)}}), Error);
  EXPECT_THROW(ReadPlan(spec_, Selection{{table(cols)}}), Error);  // rank
  // Runs: their first and last positions are checked.
  EXPECT_THROW(ReadPlan(spec_, Selection{{AxisSelection::run(0, 5), table(cols)}}), Error);
  EXPECT_THROW(ReadPlan(spec_, Selection{{AxisSelection::run(3, 5, -1), table(cols)}}), Error);
  EXPECT_THROW(ReadPlan(spec_, Selection{{AxisSelection::run(1, 3, INT64_MAX), table(cols)}}),
               Error);
  EXPECT_NO_THROW(ReadPlan(spec_, Selection{{AxisSelection::run(3, 4, -1), table(cols)}}));
}

// Runs (slices, whole axes, negative steps) read what the same positions
// given as tables read.
TEST_F(ReadPlanTest, RunsReadWhatTablesRead) {
  testing::TempDir dir;
  for (const auto& [key, bytes] : objects(spec_)) dir.write(key, bytes);
  LocalSource source(dir.path());
  struct Case {
    int64_t start, count, step;
  };
  for (const Case rc : {Case{0, 4, 1}, Case{1, 2, 1}, Case{3, 4, -1}, Case{0, 2, 2}, Case{3, 2, -3}})
    for (const Case cc : {Case{0, 6, 1}, Case{5, 6, -1}, Case{1, 3, 2}, Case{4, 1, 1}, Case{5, 2, -4}}) {
      Sel tables;
      for (int64_t k = 0; k < rc.count; ++k) tables.rows.push_back(rc.start + k * rc.step);
      for (int64_t k = 0; k < cc.count; ++k) tables.cols.push_back(cc.start + k * cc.step);
      const Selection runs{{AxisSelection::run(rc.start, rc.count, rc.step),
                            AxisSelection::run(cc.start, cc.count, cc.step)}};
      std::vector<uint8_t> out(size_t(rc.count * cc.count), 0);
      read_selection(spec_, source, runs, out.data());
      EXPECT_EQ(out, tables.expected()) << rc.start << ":" << rc.step << " " << cc.start << ":" << cc.step;
    }
}

}  // namespace
}  // namespace fastchunk
