#include "plan/axis_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace fastchunk {
namespace {

TEST(AxisPlan, SliceGivesOneRunPerChunk) {
  std::vector<int64_t> idx;
  for (int64_t i = 3; i < 13; ++i) idx.push_back(i);
  const AxisPlan p = plan_axis(idx.data(), int64_t(idx.size()), 5);
  ASSERT_EQ(p.groups.size(), 3u);
  EXPECT_EQ(p.groups[0].chunk, 0);
  EXPECT_EQ(p.groups[0].count, 2);
  EXPECT_EQ(p.groups[1].chunk, 1);
  EXPECT_EQ(p.groups[1].count, 5);
  EXPECT_EQ(p.groups[2].chunk, 2);
  EXPECT_EQ(p.groups[2].count, 3);
  for (const AxisGroup& g : p.groups) EXPECT_TRUE(g.run);
  EXPECT_EQ(p.in_pos[size_t(p.groups[1].begin)], 0);
  EXPECT_EQ(p.out_pos[size_t(p.groups[1].begin)], 2);
}

TEST(AxisPlan, ShuffledIndicesAreGroupedByChunkInOutputOrder) {
  const std::vector<int64_t> idx = {9, 1, 8, 1, 4};  // chunks of 4: 2, 0, 2, 0, 1
  const AxisPlan p = plan_axis(idx.data(), int64_t(idx.size()), 4);
  ASSERT_EQ(p.groups.size(), 3u);
  const std::vector<int64_t> chunks = {p.groups[0].chunk, p.groups[1].chunk, p.groups[2].chunk};
  EXPECT_EQ(chunks, (std::vector<int64_t>{0, 1, 2}));
  // Chunk 0 serves output positions 1 and 3 (index 1 twice), in that order.
  const AxisGroup& g0 = p.groups[0];
  ASSERT_EQ(g0.count, 2);
  EXPECT_EQ(p.out_pos[size_t(g0.begin)], 1);
  EXPECT_EQ(p.out_pos[size_t(g0.begin) + 1], 3);
  EXPECT_EQ(p.in_pos[size_t(g0.begin)], 1);
  EXPECT_FALSE(g0.run);
  // Every output position appears exactly once.
  std::vector<int> seen(idx.size(), 0);
  for (int64_t o : p.out_pos) ++seen[size_t(o)];
  for (int s : seen) EXPECT_EQ(s, 1);
}

TEST(AxisPlan, EmptySelection) {
  const AxisPlan p = plan_axis(nullptr, 0, 4);
  EXPECT_TRUE(p.groups.empty());
}

}  // namespace
}  // namespace fastchunk
