#include "io/mapped_files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "common/error.h"
#include "io/local_source.h"
#include "io/sigbus_guard.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

// Big enough to be read through a mapping.
std::string big(char c, size_t n = size_t(MappedFiles::kMinMappedRead) * 3) {
  std::string s(n, c);
  for (size_t i = 0; i < n; i += 4096) s[i] = char('a' + (i / 4096) % 26);
  return s;
}

std::string text(const ObjectBytes& got) {
  return std::string(reinterpret_cast<const char*>(got.bytes.data), got.bytes.size);
}

class MappedFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef __linux__
    GTEST_SKIP() << "files are mapped on Linux only";
#endif
    MappedFiles::instance().clear();
    MappedFiles::instance().set_budget(size_t(1) << 30);
  }
  void TearDown() override { MappedFiles::instance().clear(); }
  testing::TempDir dir_;
};

TEST_F(MappedFilesTest, LargeReadsComeFromAMappingKeptForTheNextRead) {
  const std::string bytes = big('x');
  dir_.write("c/0", bytes);
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  const MappedFilesStats before = MappedFiles::instance().stats();
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, got));
  ASSERT_TRUE(got.owner) << "not mapped (a filesystem where mapping is refused?)";
  EXPECT_EQ(storage.capacity(), 0u);  // nothing copied
  EXPECT_EQ(text(got), bytes);
  EXPECT_TRUE(got.intact());
  EXPECT_EQ(got.version, source.version("c/0"));
  ObjectBytes again;
  ASSERT_TRUE(source.get("c/0", ByteRange::slice(100, 200000), storage, again));
  EXPECT_EQ(text(again), bytes.substr(100, 200000));
  const MappedFilesStats after = MappedFiles::instance().stats();
  EXPECT_EQ(after.maps - before.maps, 1u);
  EXPECT_EQ(after.hits - before.hits, 1u);
  // Small reads copy.
  ObjectBytes small;
  ASSERT_TRUE(source.get("c/0", ByteRange::suffix(16), storage, small));
  EXPECT_FALSE(small.owner);
  EXPECT_EQ(text(small), bytes.substr(bytes.size() - 16));
}

TEST_F(MappedFilesTest, ARewrittenFileIsMappedAgain) {
  dir_.write("c/0", big('x'));
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, got));
  const std::string replaced = big('y', size_t(MappedFiles::kMinMappedRead) * 2);
  dir_.write("c/0.new", replaced);
  ASSERT_EQ(::rename((dir_.path() + "/c/0.new").c_str(), (dir_.path() + "/c/0").c_str()), 0);
  ObjectBytes now;
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, now));
  EXPECT_EQ(text(now), replaced);
  EXPECT_EQ(text(got), big('x'));  // the first answer still holds the old file
  EXPECT_NE(now.version, got.version);
}

TEST_F(MappedFilesTest, NoMappingWhenTurnedOff) {
  dir_.write("c/0", big('x'));
  MappedFiles::instance().set_budget(0);
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, got));
  EXPECT_FALSE(got.owner);
  EXPECT_EQ(text(got), big('x'));
  EXPECT_EQ(MappedFiles::instance().mappings(), 0u);
}

TEST_F(MappedFilesTest, AFileTruncatedWhileMappedReadsAsZerosAndSaysSoNeverSigbus) {
  const std::string bytes = big('x');
  dir_.write("c/0", bytes);
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, got));
  ASSERT_TRUE(got.owner);
  // Truncate the file under the mapping; its pages past the new end are gone.
  ASSERT_EQ(::truncate((dir_.path() + "/c/0").c_str(), 1000), 0);
  uint64_t sum = 0;
  for (size_t i = 0; i < got.bytes.size; ++i) sum += got.bytes.data[i];  // would be SIGBUS
  EXPECT_GT(sum, 0u);
  EXPECT_EQ(got.bytes.data[bytes.size() - 1], 0);  // a zero page now
  EXPECT_FALSE(got.intact());
  // What the file holds now: reread never maps.
  ObjectBytes now;
  ASSERT_TRUE(source.reread("c/0", ByteRange::whole(), storage, now));
  EXPECT_FALSE(now.owner);
  EXPECT_EQ(text(now), bytes.substr(0, 1000));
  // The shrunk mapping is never handed out again.
  ObjectBytes next;
  ASSERT_TRUE(source.get("c/0", ByteRange::whole(), storage, next));
  EXPECT_EQ(next.bytes.size, 1000u);
}

// A handler installed after the mapping was made (faulthandler, a DataLoader
// worker's) does not take the faults of a kept mapping: taking the mapping
// again puts the guard back in front.
TEST_F(MappedFilesTest, AKeptMappingIsGuardedAfterAnotherHandlerReplacedTheGuard) {
  const std::string bytes = big('y');
  dir_.write("c/0", bytes);
  const std::string path = dir_.path() + "/c/0";
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  ASSERT_NE(MappedFiles::instance().get(path, st), nullptr);
  struct sigaction theirs {}, before {};
  theirs.sa_handler = [](int) { _exit(135); };  // what faulthandler's end looks like
  sigemptyset(&theirs.sa_mask);
  ASSERT_EQ(sigaction(SIGBUS, &theirs, &before), 0);
  // A reader that stat()ed the file just before it was cut short.
  auto m = MappedFiles::instance().get(path, st);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  uint64_t sum = 0;
  for (size_t i = 8192; i < m->size(); i += 4096) sum += static_cast<const volatile uint8_t*>(m->data())[i];
  EXPECT_EQ(sum, 0u);
  EXPECT_FALSE(m->intact());
  sigaction(SIGBUS, &before, nullptr);
}

TEST(SigbusGuard, RangesFaultIntoZerosOnlyWhileRegistered) {
  testing::TempDir dir;
  dir.write("f", std::string(3 * 4096, 'q'));
  const std::string path = dir.path() + "/f";
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* p = mmap(nullptr, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(p, MAP_FAILED);
  const int slot = SigbusGuard::enter(p, 3 * 4096);
  ASSERT_GE(slot, 0);
  EXPECT_EQ(SigbusGuard::faults(slot), 0u);
  ASSERT_EQ(::truncate(path.c_str(), 4096), 0);
  const volatile uint8_t* b = static_cast<const uint8_t*>(p);
  EXPECT_EQ(b[0], 'q');
  EXPECT_EQ(b[4096], 0);
  EXPECT_EQ(b[2 * 4096 + 7], 0);
  EXPECT_EQ(SigbusGuard::faults(slot), 1u);  // one fault: the rest of the range was replaced
  SigbusGuard::leave(slot);
  munmap(p, 3 * 4096);
}

TEST(SigbusGuardDeathTest, FaultsOutsideRegisteredRangesStillEndTheProcess) {
  SigbusGuard::ensure_installed();
  EXPECT_EXIT(
      {
        testing::TempDir dir;
        dir.write("f", std::string(2 * 4096, 'q'));
        const std::string path = dir.path() + "/f";
        const int fd = ::open(path.c_str(), O_RDONLY);
        void* p = mmap(nullptr, 2 * 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (::truncate(path.c_str(), 0) != 0) _exit(3);
        const volatile uint8_t* b = static_cast<const uint8_t*>(p);
        _exit(b[4096]);  // not registered: SIGBUS as without the guard
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

}  // namespace
}  // namespace fastchunk
