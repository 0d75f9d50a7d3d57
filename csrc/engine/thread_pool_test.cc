#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace fastchunk {
namespace {

TEST(ThreadPool, RunsEveryIndexOnce) {
  set_num_threads(4);
  std::vector<std::atomic<int>> hits(1000);
  parallel_for(1000, [&](int64_t i) { hits[size_t(i)].fetch_add(1); });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
  set_num_threads(0);
}

TEST(ThreadPool, FirstExceptionIsRethrownAfterTheOthersFinish) {
  set_num_threads(3);
  std::atomic<int> running{0};
  EXPECT_THROW(parallel_for(200,
                            [&](int64_t i) {
                              running.fetch_add(1);
                              if (i == 7) throw std::runtime_error("boom");
                              running.fetch_sub(1);
                            }),
               std::runtime_error);
  EXPECT_EQ(running.load(), 1);  // only the failing index is left counted: no task still running
  set_num_threads(0);
}

TEST(ThreadPool, ResizingBetweenJobsKeepsWorking) {
  for (int n : {1, 2, 5, 2}) {
    set_num_threads(n);
    EXPECT_EQ(num_threads(), n);
    std::atomic<int64_t> sum{0};
    parallel_for(100, [&](int64_t i) { sum.fetch_add(i); });
    EXPECT_EQ(sum.load(), 4950);
  }
  set_num_threads(0);
  EXPECT_EQ(num_threads(), default_num_threads());
}

}  // namespace
}  // namespace fastchunk
