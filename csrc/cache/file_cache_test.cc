#include "cache/file_cache.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fastchunk {
namespace {

class FileCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fastchunk-file-cache-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf '" + dir_ + "'").c_str()); }

  std::shared_ptr<FileCache> open(uint64_t budget, bool checksum = true) {
    return FileCache::open(dir_ + "/c", budget, FileCache::Options{false, checksum});
  }
  static std::vector<uint8_t> bytes(size_t n, uint8_t value) { return std::vector<uint8_t>(n, value); }
  static size_t count_entries(const std::string& dir) {
    std::string cmd = "ls -A '" + dir + "/entries' | wc -l";
    FILE* p = ::popen(cmd.c_str(), "r");
    size_t n = 0;
    if (p) {
      if (std::fscanf(p, "%zu", &n) != 1) n = 0;
      ::pclose(p);
    }
    return n;
  }
  // The one file of the entries directory (tests that store a single entry).
  std::string only_entry() const {
    FILE* p = ::popen(("ls '" + dir_ + "/c/entries'").c_str(), "r");
    char name[256] = {0};
    if (p) {
      if (std::fscanf(p, "%255s", name) != 1) name[0] = 0;
      ::pclose(p);
    }
    return dir_ + "/c/entries/" + name;
  }

  std::string dir_;
};

TEST_F(FileCacheTest, StoresAndFindsBytesWithTheirTag) {
  auto cache = open(1 << 20);
  const auto data = bytes(1000, 7);
  ASSERT_TRUE(cache->insert("a", data.data(), data.size(), "v1"));
  CachedFile hit = cache->find("a");
  ASSERT_TRUE(bool(hit));
  EXPECT_EQ(hit.size(), 1000u);
  EXPECT_EQ(hit.data()[999], 7);
  EXPECT_EQ(hit.tag(), "v1");
  EXPECT_FALSE(bool(cache->find("b")));
  EXPECT_FALSE(bool(cache->find("a", 999)));  // another size is another chunk
  const FileCacheStats st = cache->stats();
  EXPECT_EQ(st.entries, 1u);
  EXPECT_EQ(st.inserts, 1u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 2u);
}

TEST_F(FileCacheTest, SecondProcessHandleSeesTheSameEntriesAndCounters) {
  auto first = open(1 << 20);
  const auto data = bytes(10, 1);
  ASSERT_TRUE(first->insert("k", data.data(), data.size()));
  auto second = FileCache::open_existing(dir_ + "/c", FileCache::Options{true, false});
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(bool(second->find("k")));
  EXPECT_EQ(first->stats().hits, 1u);
  EXPECT_EQ(FileCache::open_existing(dir_ + "/missing", FileCache::Options{}), nullptr);
}

TEST_F(FileCacheTest, InsertKeepsTheFirstEntryAndReplaceOverwrites) {
  auto cache = open(1 << 20);
  const auto a = bytes(10, 1), b = bytes(20, 2);
  ASSERT_TRUE(cache->insert("k", a.data(), a.size()));
  EXPECT_FALSE(cache->insert("k", b.data(), b.size()));
  EXPECT_EQ(cache->find("k").size(), 10u);
  ASSERT_TRUE(cache->replace("k", b.data(), b.size(), "t"));
  EXPECT_EQ(cache->find("k").size(), 20u);
  EXPECT_EQ(cache->stats().entries, 1u);
  EXPECT_EQ(cache->stats().used, cache->recount());
}

TEST_F(FileCacheTest, MappedEntriesReadOnDemandAndOutliveEviction) {
  auto cache = FileCache::open(dir_ + "/c", 1 << 20, FileCache::Options{true, false});
  std::vector<uint8_t> data(70000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 31);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  CachedFile hit = cache->find("k");
  ASSERT_TRUE(bool(hit));
  cache->clear();  // the file is gone from the directory, not from the open entry
  std::vector<uint8_t> copy(hit.size());
  ASSERT_TRUE(hit.read(0, copy.data(), copy.size()));
  EXPECT_EQ(copy, data);
  EXPECT_EQ(std::vector<uint8_t>(hit.data(), hit.data() + hit.size()), data);
}

// Only the entry's owner can cut it short, but a reader must survive that:
// mapped pages past the new end read as zeros (!intact), reads fail cleanly.
TEST_F(FileCacheTest, AnEntryCutShortUnderItsReaderNeverRaisesSigbus) {
  auto cache = FileCache::open(dir_ + "/c", 1 << 20, FileCache::Options{true, false});
  std::vector<uint8_t> data(70000, 5);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  CachedFile hit = cache->find("k");
  ASSERT_TRUE(bool(hit));
  const uint8_t* mapped = hit.data();
  ASSERT_NE(mapped, nullptr);
  EXPECT_EQ(mapped[69999], 5);
  EXPECT_TRUE(hit.intact());
  ASSERT_EQ(::truncate(only_entry().c_str(), 4096), 0);
  uint64_t sum = 0;
  for (size_t i = 8192; i < data.size(); i += 4096) sum += mapped[i];
  EXPECT_EQ(sum, 0u);
  EXPECT_FALSE(hit.intact());
  std::vector<uint8_t> copy(data.size());
  EXPECT_FALSE(hit.read(0, copy.data(), copy.size()));
  EXPECT_FALSE(hit.load());
}

// Files that are not this user's private files are never read as entries.
TEST_F(FileCacheTest, EntriesOthersMayWriteAreDroppedNotServed) {
  auto cache = open(1 << 20);
  const auto data = bytes(100, 4);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  ASSERT_EQ(::chmod(only_entry().c_str(), 0666), 0);
  EXPECT_FALSE(bool(cache->find("k")));
  EXPECT_EQ(cache->stats().dropped, 1u);
  EXPECT_EQ(count_entries(dir_ + "/c"), 0u);
}

// Every file is reached through the directory opened at first: a cache
// directory renamed away and replaced keeps being the one this handle uses.
TEST_F(FileCacheTest, ADirectoryReplacedUnderAnOpenCacheIsNotFollowed) {
  auto cache = open(1 << 20);
  const auto data = bytes(100, 4);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  ASSERT_EQ(::rename((dir_ + "/c").c_str(), (dir_ + "/moved").c_str()), 0);
  auto other = FileCache::open(dir_ + "/c", 1 << 20, FileCache::Options{false, true});
  const auto forged = bytes(100, 6);
  ASSERT_TRUE(other->insert("k", forged.data(), forged.size()));
  CachedFile hit = cache->find("k");
  ASSERT_TRUE(bool(hit));
  EXPECT_EQ(hit.data()[0], 4);
}

TEST_F(FileCacheTest, BudgetHoldsAndOldestGoFirst) {
  auto cache = open(10000);
  const auto data = bytes(900, 3);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(cache->insert("k" + std::to_string(i), data.data(), data.size()));
    EXPECT_LE(cache->stats().used, 10000u);
  }
  const FileCacheStats st = cache->stats();
  EXPECT_GT(st.evictions, 0u);
  EXPECT_EQ(st.entries, count_entries(dir_ + "/c"));
  EXPECT_TRUE(bool(cache->find("k39")));
  EXPECT_FALSE(bool(cache->find("k0")));
  const auto huge = bytes(20000, 1);
  EXPECT_FALSE(cache->insert("huge", huge.data(), huge.size()));  // never fits
  cache->set_budget(2000);
  EXPECT_LE(cache->stats().used, 2000u);
}

TEST_F(FileCacheTest, TruncatedOrCorruptEntriesAreDroppedNotServed) {
  auto cache = open(1 << 20);
  const auto data = bytes(5000, 9);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  const std::string path = only_entry();
  ASSERT_EQ(::truncate(path.c_str(), 3000), 0);
  EXPECT_FALSE(bool(cache->find("k")));
  EXPECT_EQ(cache->stats().dropped, 1u);
  EXPECT_EQ(count_entries(dir_ + "/c"), 0u);

  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  {
    std::fstream f(only_entry(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-10, std::ios::end);
    f.put('x');
  }
  EXPECT_FALSE(bool(cache->find("k")));  // the checksum catches it
  EXPECT_EQ(cache->stats().dropped, 2u);
  EXPECT_EQ(cache->stats().used, 0u);
}

TEST_F(FileCacheTest, AccountingInterruptedByADeadHolderIsRecounted) {
  auto cache = open(1 << 20);
  const auto data = bytes(100, 1);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  const uint64_t used = cache->stats().used;
  // A child takes the lock, marks the block dirty, scribbles, and is killed.
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto child = FileCache::open_existing(dir_ + "/c", FileCache::Options{});
    const int fd = ::open((dir_ + "/c/control").c_str(), O_RDWR);
    ::flock(fd, LOCK_EX);
    std::fstream f(dir_ + "/c/control", std::ios::in | std::ios::out | std::ios::binary);
    const uint64_t junk[2] = {777777777, 4242};  // used, entries
    f.seekp(32);
    f.write(reinterpret_cast<const char*>(junk), sizeof junk);
    const int64_t dirty = ::getpid();
    f.seekp(96);
    f.write(reinterpret_cast<const char*>(&dirty), sizeof dirty);
    f.flush();
    ::pause();
    ::_exit(0);
  }
  ::usleep(200000);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  EXPECT_EQ(cache->stats().used, 777777777u);
  const auto more = bytes(50, 2);
  ASSERT_TRUE(cache->insert("j", more.data(), more.size()));  // finds it dirty, recounts
  EXPECT_EQ(cache->stats().entries, 2u);
  EXPECT_GT(cache->stats().used, used);
  EXPECT_EQ(cache->stats().used, cache->recount());
}

TEST_F(FileCacheTest, TemporaryFilesOfDeadWritersAreRemoved) {
  auto cache = open(1 << 20);
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  const std::string stale = dir_ + "/c/entries/.tmp." + std::to_string(pid) + ".0";
  std::ofstream(stale) << std::string(4096, 'x');
  cache->recount();
  EXPECT_EQ(count_entries(dir_ + "/c"), 0u);
  EXPECT_EQ(cache->stats().used, 0u);
}

TEST_F(FileCacheTest, AClaimMakesOthersWaitForTheEntry) {
  auto cache = FileCache::open(dir_ + "/c", 1 << 20, FileCache::Options{true, false});
  FillClaim claim;
  EXPECT_FALSE(bool(cache->find_or_claim("k", 100, claim)));
  ASSERT_TRUE(claim.held());
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    FillClaim mine;
    CachedFile e = cache->find_or_claim("k", 100, mine);
    got = bool(e) && !mine.held() && e.data()[0] == 5;
  });
  ::usleep(50000);
  const auto data = bytes(100, 5);
  ASSERT_TRUE(cache->insert("k", data.data(), data.size()));
  claim.release();
  waiter.join();
  EXPECT_TRUE(got);
  const FileCacheStats st = cache->stats();
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.waits, 1u);
  EXPECT_EQ(st.inserts, 1u);
}

TEST_F(FileCacheTest, AClaimOfADeadProcessIsPassedOver) {
  auto cache = FileCache::open(dir_ + "/c", 1 << 20, FileCache::Options{true, false});
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    auto child = FileCache::open_existing(dir_ + "/c", FileCache::Options{true, false});
    FillClaim claim;
    child->find_or_claim("k", 10, claim);
    const char c = claim.held() ? 'y' : 'n';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  FillClaim claim;
  const auto started = std::chrono::steady_clock::now();
  EXPECT_FALSE(bool(cache->find_or_claim("k", 10, claim)));
  EXPECT_TRUE(claim.held());  // took over at once, no timeout
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(FileCacheTest, ClearEmptiesAndZeroesCounters) {
  auto cache = open(1 << 20);
  const auto data = bytes(10, 1);
  ASSERT_TRUE(cache->insert("a", data.data(), data.size()));
  ASSERT_TRUE(cache->insert("b", data.data(), data.size()));
  cache->find("a");
  cache->clear();
  const FileCacheStats st = cache->stats();
  EXPECT_EQ(st.entries, 0u);
  EXPECT_EQ(st.used, 0u);
  EXPECT_EQ(st.hits, 0u);
  EXPECT_EQ(st.inserts, 0u);
  EXPECT_FALSE(bool(cache->find("a")));
  EXPECT_EQ(count_entries(dir_ + "/c"), 0u);
}

TEST_F(FileCacheTest, ThreadsInsertingAndReadingTogetherStayConsistent) {
  auto cache = FileCache::open(dir_ + "/c", 50000, FileCache::Options{true, false});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const int k = (i * 7 + t) % 60;
        const auto data = bytes(1000 + size_t(k), uint8_t(k));
        FillClaim claim;
        CachedFile e = cache->find_or_claim("k" + std::to_string(k), data.size(), claim);
        if (e) {
          if (e.data()[0] != uint8_t(k) || e.data()[e.size() - 1] != uint8_t(k)) ++wrong;
        } else {
          cache->insert("k" + std::to_string(k), data.data(), data.size());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache->stats().used, 50000u);
  EXPECT_EQ(cache->stats().used, cache->recount());
  EXPECT_EQ(cache->stats().entries, count_entries(dir_ + "/c"));
}

}  // namespace
}  // namespace fastchunk
