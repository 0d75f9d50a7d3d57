#include "plan/axis_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace fastchunk {
namespace {

// Every (output, chunk) position pair of a plan, in output order.
std::vector<std::pair<int64_t, int64_t>> pairs(const AxisPlan& p, int64_t chunk_len, int64_t n) {
  std::vector<std::pair<int64_t, int64_t>> out(size_t(n), {-1, -1});
  for (const AxisGroup& g : p.groups) {
    const AxisSpan s = p.span(g);
    for (int64_t k = 0; k < s.n; ++k)
      out[size_t(s.out.at(k))] = {s.out.at(k), g.chunk * chunk_len + s.in.at(k)};
  }
  return out;
}

TEST(AxisPlan, SliceGivesOneRunPerChunkAndNoTable) {
  const AxisPlan p = plan_axis(AxisSelection::run(3, 10), 5);  // 3..12
  ASSERT_EQ(p.groups.size(), 3u);
  EXPECT_TRUE(p.out_pos.empty());
  EXPECT_TRUE(p.in_pos.empty());
  EXPECT_EQ(p.groups[0].chunk, 0);
  EXPECT_EQ(p.groups[0].count, 2);
  EXPECT_EQ(p.groups[1].chunk, 1);
  EXPECT_EQ(p.groups[1].count, 5);
  EXPECT_EQ(p.groups[2].chunk, 2);
  EXPECT_EQ(p.groups[2].count, 3);
  for (const AxisGroup& g : p.groups) EXPECT_TRUE(p.span(g).contiguous());
  EXPECT_EQ(p.groups[1].in.first, 0);
  EXPECT_EQ(p.groups[1].out.first, 2);
}

TEST(AxisPlan, AWholeAxisOfManyPointsIsOneGroupPerChunk) {
  // 65160 grid points in one chunk (an anemoi date): one group, O(1) work.
  const AxisPlan one = plan_axis(AxisSelection::run(0, 65160), 65160);
  ASSERT_EQ(one.groups.size(), 1u);
  EXPECT_EQ(one.groups[0].count, 65160);
  EXPECT_TRUE(one.out_pos.empty());
  const AxisPlan many = plan_axis(AxisSelection::run(0, 1000000), 1000);
  EXPECT_EQ(many.groups.size(), 1000u);
}

TEST(AxisPlan, StridedAndReversedRunsMatchTheirTables) {
  struct Case {
    int64_t start, count, step, chunk_len;
  };
  for (const Case c : {Case{1, 7, 3, 4}, Case{20, 7, -3, 4}, Case{9, 10, -1, 3}, Case{0, 5, 7, 2},
                       Case{5, 4, 0, 3}, Case{0, 1, 1, 1}}) {
    std::vector<int64_t> table;
    for (int64_t k = 0; k < c.count; ++k) table.push_back(c.start + k * c.step);
    const AxisPlan run = plan_axis(AxisSelection::run(c.start, c.count, c.step), c.chunk_len);
    const AxisPlan tab = plan_axis(AxisSelection::table(table.data(), c.count), c.chunk_len);
    EXPECT_EQ(pairs(run, c.chunk_len, c.count), pairs(tab, c.chunk_len, c.count))
        << c.start << " " << c.count << " " << c.step;
    EXPECT_TRUE(run.out_pos.empty());
    // One group per chunk crossed.
    std::vector<int64_t> chunks;
    for (int64_t v : table)
      if (chunks.empty() || chunks.back() != v / c.chunk_len) chunks.push_back(v / c.chunk_len);
    EXPECT_EQ(run.groups.size(), chunks.size());
  }
}

TEST(AxisPlan, ShuffledIndicesAreGroupedByChunkInOutputOrder) {
  const std::vector<int64_t> idx = {9, 1, 8, 1, 4};  // chunks of 4: 2, 0, 2, 0, 1
  const AxisPlan p = plan_axis(AxisSelection::table(idx.data(), int64_t(idx.size())), 4);
  ASSERT_EQ(p.groups.size(), 3u);
  const std::vector<int64_t> chunks = {p.groups[0].chunk, p.groups[1].chunk, p.groups[2].chunk};
  EXPECT_EQ(chunks, (std::vector<int64_t>{0, 1, 2}));
  // Chunk 0 serves output positions 1 and 3 (index 1 twice), in that order.
  const AxisSpan g0 = p.span(p.groups[0]);
  ASSERT_EQ(g0.n, 2);
  EXPECT_EQ(g0.out.at(0), 1);
  EXPECT_EQ(g0.out.at(1), 3);
  EXPECT_EQ(g0.in.at(0), 1);
  EXPECT_FALSE(g0.contiguous());
  // A single position is a run: no table needed.
  EXPECT_EQ(p.groups[1].table_begin, -1);
  EXPECT_EQ(p.span(p.groups[1]).out.at(0), 4);
  // Every output position appears exactly once.
  std::vector<int> seen(idx.size(), 0);
  for (const AxisGroup& g : p.groups) {
    const AxisSpan s = p.span(g);
    for (int64_t k = 0; k < s.n; ++k) ++seen[size_t(s.out.at(k))];
  }
  for (int s : seen) EXPECT_EQ(s, 1);
}

TEST(AxisPlan, SortedTablesThatStepByOneBecomeRuns) {
  const std::vector<int64_t> idx = {2, 3, 4, 5, 7};
  const AxisPlan p = plan_axis(AxisSelection::table(idx.data(), 5), 4);  // chunks 0, 1
  ASSERT_EQ(p.groups.size(), 2u);
  EXPECT_TRUE(p.span(p.groups[0]).contiguous());   // 2, 3
  EXPECT_FALSE(p.span(p.groups[1]).contiguous());  // 4, 5, 7
}

TEST(AxisPlan, EmptySelection) {
  EXPECT_TRUE(plan_axis(AxisSelection::table(nullptr, 0), 4).groups.empty());
  EXPECT_TRUE(plan_axis(AxisSelection::run(0, 0), 4).groups.empty());
}

}  // namespace
}  // namespace fastchunk
