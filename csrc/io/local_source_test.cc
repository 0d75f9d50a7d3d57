#include "io/local_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "io/mapped_files.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

std::string text(const ObjectBytes& got) {
  return std::string(reinterpret_cast<const char*>(got.bytes.data), got.bytes.size);
}

class LocalSourceTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("x/obj", "0123456789"); }
  testing::TempDir dir_;
};

TEST_F(LocalSourceTest, WholeSliceAndSuffix) {
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("x/obj", ByteRange::whole(), storage, got));
  EXPECT_EQ(text(got), "0123456789");
  EXPECT_EQ(got.object_size, 10u);
  ASSERT_TRUE(source.get("x/obj", ByteRange::slice(2, 3), storage, got));
  EXPECT_EQ(text(got), "234");
  ASSERT_TRUE(source.get("x/obj", ByteRange::suffix(4), storage, got));
  EXPECT_EQ(text(got), "6789");
  EXPECT_EQ(got.object_size, 10u);
  ASSERT_TRUE(source.get("x/obj", ByteRange::suffix(0), storage, got));
  EXPECT_EQ(got.bytes.size, 0u);
}

TEST_F(LocalSourceTest, MissingObjectsAreNotErrors) {
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  EXPECT_FALSE(source.get("x/none", ByteRange::whole(), storage, got));
  EXPECT_FALSE(source.get("x/obj/below", ByteRange::whole(), storage, got));  // ENOTDIR
  EXPECT_EQ(source.version("x/none"), "");
}

TEST_F(LocalSourceTest, RangesOutsideTheObjectAreDecodeErrors) {
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  for (const ByteRange& r : {ByteRange::slice(8, 3), ByteRange::slice(11, 0),
                             ByteRange::slice(UINT64_MAX, 2), ByteRange::suffix(11)}) {
    try {
      source.get("x/obj", r, storage, got);
      FAIL() << r.describe();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kDecode) << r.describe();
    }
  }
}

TEST_F(LocalSourceTest, ADirectoryWhereAnObjectShouldBeIsAnError) {
  dir_.mkdir("x/dir");
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  EXPECT_THROW(source.get("x/dir", ByteRange::whole(), storage, got), Error);
}

TEST_F(LocalSourceTest, VersionChangesWhenTheFileIsRewritten) {
  LocalSource source(dir_.path());
  const std::string before = source.version("x/obj");
  ASSERT_FALSE(before.empty());
  ByteBuffer storage;
  ObjectBytes got;
  source.get("x/obj", ByteRange::whole(), storage, got);
  EXPECT_EQ(got.version, before);
  dir_.write("x/obj", "a different, longer object");
  EXPECT_NE(source.version("x/obj"), before);
}

TEST_F(LocalSourceTest, UnchangedUntilTheFileIsRewrittenInPlace) {
  LocalSource source(dir_.path());
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("x/obj", ByteRange::whole(), storage, got));
  EXPECT_TRUE(source.unchanged("x/obj", got));
  {  // the same inode, another length: what a reader mid-way could have mixed
    std::FILE* f = std::fopen((dir_.path() + "/x/obj").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fputs("rewritten in place, longer than before", f);
    std::fclose(f);
  }
  EXPECT_FALSE(source.unchanged("x/obj", got));
  ObjectBytes again;
  ASSERT_TRUE(source.reread("x/obj", ByteRange::whole(), storage, again));
  EXPECT_TRUE(source.unchanged("x/obj", again));
}

// Pages of the file in the page cache (mincore on a mapping never touched:
// it reads nothing).
size_t resident_pages(const std::string& path, size_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return 0;
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in((size + page - 1) / page);
  size_t count = 0;
  if (::mincore(map, size, in.data()) == 0)
    for (unsigned char c : in) count += c & 1;
  ::munmap(map, size);
  return count;
}

TEST_F(LocalSourceTest, PrefetchBringsAnEvictedFileIntoThePageCache) {
  const size_t size = size_t(4) << 20, pages = size / size_t(::sysconf(_SC_PAGESIZE));
  dir_.write("big", std::string(size, 'z'));
  const std::string path = dir_.path() + "/big";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::fsync(fd);  // dirty pages cannot be evicted
  for (int i = 0; i < 2; ++i) {  // pages still in per-CPU LRU batches go on the second pass
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  if (resident_pages(path, size) > pages / 2) GTEST_SKIP() << "this filesystem keeps its pages";
  LocalSource source(dir_.path());
  source.prefetch("big", ByteRange::whole());
  source.prefetch("missing", ByteRange::whole());  // no error
  size_t resident = 0;
  for (int i = 0; i < 200 && resident < pages; ++i) {
    resident = resident_pages(path, size);
    if (resident < pages) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(resident, pages);
}

TEST_F(LocalSourceTest, AFileWithAKeptMappingIsProbedThroughIt) {
  const size_t size = size_t(4) << 20, pages = size / size_t(::sysconf(_SC_PAGESIZE));
  dir_.write("kept", std::string(size, 'k'));
  const std::string path = dir_.path() + "/kept";
  MappedFiles& files = MappedFiles::instance();
  EXPECT_EQ(files.resident(path, 0, 0), -1);  // no mapping of it yet
  LocalSource source(dir_.path());
  {
    ByteBuffer storage;
    ObjectBytes got;
    ASSERT_TRUE(source.get("kept", ByteRange::whole(), storage, got));
    ASSERT_TRUE(got.owner);  // mapped, and the mapping is kept after this read
  }
  EXPECT_EQ(files.resident(path, 0, 0), 1);  // just written: cached
  EXPECT_EQ(files.resident(path, size, 1), -1);  // outside the file
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ::fsync(fd);
  for (int i = 0; i < 2; ++i) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::close(fd);
  if (resident_pages(path, size) > pages / 2) GTEST_SKIP() << "this filesystem keeps its pages";
  EXPECT_EQ(files.resident(path, 0, 0), 0);
  source.prefetch("kept", ByteRange::whole());  // the mapping says cold: the kernel is asked
  size_t resident = 0;
  for (int i = 0; i < 200 && resident < pages; ++i) {
    resident = resident_pages(path, size);
    if (resident < pages) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(resident, pages);
  EXPECT_EQ(files.resident(path, 0, 0), 1);
}

}  // namespace
}  // namespace fastchunk
