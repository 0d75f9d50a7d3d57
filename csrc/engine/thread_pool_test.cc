#include "engine/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
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

TEST(ThreadPool, PerCallThreadCountLeavesTheSettingAlone) {
  set_num_threads(2);
  for (int threads : {1, 3, 6, 2}) {
    std::atomic<int> inside{0}, most{0};
    parallel_for(
        64,
        [&](int64_t) {
          const int now = inside.fetch_add(1) + 1;
          int prev = most.load();
          while (now > prev && !most.compare_exchange_weak(prev, now)) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
          inside.fetch_sub(1);
        },
        threads);
    EXPECT_LE(most.load(), threads);
    if (threads > 1) EXPECT_GT(most.load(), 1) << threads;
    EXPECT_EQ(num_threads(), 2);
  }
  set_num_threads(0);
}

TEST(BackgroundWork, RunsOnAWorkerWhileTheCallerGoesOn) {
  set_num_threads(2);
  std::atomic<bool> caller_done{false};
  std::atomic<int> ran{0}, before_caller_done{0};
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  {
    BackgroundWork work(4, [&](int64_t) {
      if (std::this_thread::get_id() == caller) on_caller.fetch_add(1);
      if (!caller_done.load()) before_caller_done.fetch_add(1);
      ran.fetch_add(1);
    });
    // The caller's own work: long enough for the worker to take every piece.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
    while (std::chrono::steady_clock::now() < until && ran.load() < 4) std::this_thread::yield();
    caller_done = true;
  }
  EXPECT_EQ(ran.load(), 4);
  EXPECT_EQ(on_caller.load(), 0);
  EXPECT_EQ(before_caller_done.load(), 4);
  set_num_threads(0);
}

TEST(BackgroundWork, WaitRunsWhatNoWorkerTookAndEveryIndexOnce) {
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(300);
    {
      std::atomic<bool> release{false};
      // Occupies the workers, so that most of the background work is left to wait().
      std::thread busy([&] {
        parallel_for(threads, [&](int64_t) {
          while (!release.load()) std::this_thread::yield();
        });
      });
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      BackgroundWork work(300, [&](int64_t i) { hits[size_t(i)].fetch_add(1); });
      release = true;
      work.wait();
      for (auto& h : hits) EXPECT_EQ(h.load(), 1) << threads;
      work.wait();  // a second wait does nothing
      busy.join();
    }
  }
  set_num_threads(0);
}

TEST(BackgroundWork, AThrowingPieceIsDropped) {
  set_num_threads(2);
  std::atomic<int> ran{0};
  {
    BackgroundWork work(1, [&](int64_t) {
      ran.fetch_add(1);
      throw std::runtime_error("dropped");
    });
  }
  EXPECT_EQ(ran.load(), 1);
  set_num_threads(0);
}

}  // namespace
}  // namespace fastchunk
