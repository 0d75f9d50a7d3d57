#include "cache/process_stats.h"

#include <gtest/gtest.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "cache/stored_cache.h"
#include "testing/test_arrays.h"

namespace fastchunk {
namespace {

const PublishedProcess* find(const std::vector<PublishedProcess>& all, int64_t pid) {
  for (const auto& p : all)
    if (p.pid == pid) return &p;
  return nullptr;
}

// Files in `dir` whose names say they are pages of `pid`.
int pages_of(const std::string& dir, int64_t pid) {
  int n = 0;
  const std::string prefix = "fastchunk-process-" + std::to_string(pid) + ".";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) n += std::string(e->d_name).rfind(prefix, 0) == 0;
    closedir(d);
  }
  return n;
}

TEST(ProcessStats, PagesShowEachLiveProcessAndDeadOnesAreRemoved) {
  testing::TempDir dir;
  publish_process_stats_in(dir.path());
  StoredCache& cache = StoredCache::instance();
  cache.set_capacity(1 << 20);
  const std::string bytes = "stored bytes";
  cache.put("k", ByteView{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
            bytes.size(), "v1");
  cache.get("k");
  cache.get("missing");
  auto all = read_published_processes(dir.path());
  const PublishedProcess* me = find(all, getpid());
  ASSERT_NE(me, nullptr);
  const LevelNumbers& c = me->levels[int(ProcessLevel::kCompressed)];
  EXPECT_EQ(c.capacity, 1u << 20);
  EXPECT_EQ(c.entries, 1u);
  EXPECT_EQ(c.used, bytes.size());
  EXPECT_GE(c.hits, 1u);
  EXPECT_GE(c.misses, 1u);

  // A forked child publishes its own page; once it is gone, so is its page.
  const pid_t child = fork();
  if (child == 0) {
    StoredCache::instance().get("k");
    _exit(find(read_published_processes(dir.path()), getpid()) ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  all = read_published_processes(dir.path());
  EXPECT_EQ(find(all, child), nullptr);
  EXPECT_NE(find(all, getpid()), nullptr);
  EXPECT_EQ(pages_of(dir.path(), child), 0);

  publish_process_stats_in("");
  EXPECT_EQ(find(read_published_processes(dir.path()), getpid()), nullptr);
  cache.set_capacity(0);
  cache.clear();
}

// The name a page used to have (fastchunk-process-PID.stats) could be
// guessed: a link planted there turned the page into a write elsewhere, and a
// file planted there could be cut short under the mapping. Pages are made
// with O_EXCL under names no one can guess.
TEST(ProcessStats, NothingPlantedUnderAGuessableNameIsWrittenOrMapped) {
  testing::TempDir dir;
  testing::TempDir elsewhere;
  const std::string target = elsewhere.path() + "/precious";
  std::ofstream(target) << "keep me";
  const std::string guessed = dir.path() + "/fastchunk-process-" + std::to_string(getpid());
  ASSERT_EQ(symlink(target.c_str(), (guessed + ".stats").c_str()), 0);
  std::ofstream(guessed + ".0.stats") << "";
  publish_process_stats_in(dir.path());
  StoredCache::instance().set_capacity(1 << 20);
  StoredCache::instance().publish();
  std::ifstream in(target);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "keep me");
  EXPECT_EQ(pages_of(dir.path(), getpid()), 3);  // the link, the planted file, our own page
  ASSERT_EQ(truncate((guessed + ".0.stats").c_str(), 0), 0);
  StoredCache::instance().publish();  // writes into our page only
  ASSERT_NE(find(read_published_processes(dir.path()), getpid()), nullptr);
  publish_process_stats_in("");
  StoredCache::instance().set_capacity(0);
}

// A reader opens pages without blocking and reads them without mapping them.
TEST(ProcessStats, ReadersSkipFifosAndShortPages) {
  testing::TempDir dir;
  const std::string base = dir.path() + "/fastchunk-process-" + std::to_string(getpid());
  ASSERT_EQ(mkfifo((base + ".1.stats").c_str(), 0600), 0);
  std::ofstream(base + ".2.stats") << "short";
  EXPECT_TRUE(read_published_processes(dir.path()).empty());
}

}  // namespace
}  // namespace fastchunk
