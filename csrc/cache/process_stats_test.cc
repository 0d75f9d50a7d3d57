#include "cache/process_stats.h"

#include <gtest/gtest.h>
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
  std::ifstream gone(dir.path() + "/fastchunk-process-" + std::to_string(child) + ".stats");
  EXPECT_FALSE(gone.good());

  publish_process_stats_in("");
  EXPECT_EQ(find(read_published_processes(dir.path()), getpid()), nullptr);
  cache.set_capacity(0);
  cache.clear();
}

}  // namespace
}  // namespace fastchunk
