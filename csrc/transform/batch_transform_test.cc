#include "transform/batch_transform.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

TEST(BatchTransform, ChannelsLastIsTheTransposeOfTheNormalizedBatch) {
  const int64_t outer = 3, channels = 4, inner = 300;  // inner spans several blocks
  std::vector<float> in(size_t(outer * channels * inner));
  for (size_t i = 0; i < in.size(); ++i) in[i] = float(i % 97) - 40.0f;
  in[5] = NAN;
  const float mean[] = {1, 2, 3, 4}, std[] = {1, 2, 4, 8};
  TransformSpec spec;
  spec.outer = outer;
  spec.channels = channels;
  spec.inner = inner;
  spec.mean = mean;
  spec.std = std;
  spec.replace_nan = true;
  spec.nan_value = -9.0f;
  spec.channels_last = true;
  std::vector<float> out(in.size());
  transform_batch(in.data(), out.data(), spec);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < inner; ++i) {
        const float v = in[size_t((o * channels + c) * inner + i)];
        const float want = std::isnan(v) ? -9.0f : (v - mean[c]) / std[c];
        ASSERT_EQ(out[size_t((o * inner + i) * channels + c)], want) << o << " " << c << " " << i;
      }
    }
  }
}

TEST(ThreadCount, OneThreadsCountLeavesTheOthersAlone) {
  set_num_threads(2);
  std::atomic<int> seen{0};
  std::set<std::thread::id> ids;
  std::mutex ids_mutex;
  std::thread t([&] {
    set_thread_num_threads(4);
    seen = num_threads();
    parallel_for(400, [&](int64_t) {
      std::lock_guard<std::mutex> lock(ids_mutex);
      ids.insert(std::this_thread::get_id());
    });
  });
  t.join();
  EXPECT_EQ(seen.load(), 4);
  EXPECT_LE(ids.size(), 4u);
  EXPECT_EQ(num_threads(), 2);  // this thread never set its own
  std::atomic<int64_t> sum{0};
  parallel_for(100, [&](int64_t i) { sum.fetch_add(i); });  // the grown pool, capped at 2
  EXPECT_EQ(sum.load(), 4950);
  set_num_threads(0);
}

}  // namespace
}  // namespace fastchunk
