#include "plan/region_copy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

namespace fastchunk {
namespace {

// A (rows x cols) int32 chunk copied into a (out_rows x out_cols) output.
struct Grid2 {
  std::vector<int64_t> out0, in0, out1, in1;
  std::vector<AxisSpan> spans;
  int64_t src_strides[2], dst_strides[2];
  RegionGeometry geometry(int64_t chunk_cols, int64_t out_cols) {
    spans = {runs_detected(AxisSpan{Positions::of(out0.data()), Positions::of(in0.data()),
                                    int64_t(out0.size())}),
             runs_detected(AxisSpan{Positions::of(out1.data()), Positions::of(in1.data()),
                                    int64_t(out1.size())})};
    src_strides[0] = 4 * chunk_cols;
    src_strides[1] = 4;
    dst_strides[0] = 4 * out_cols;
    dst_strides[1] = 4;
    return RegionGeometry{2, 4, spans.data(), src_strides, dst_strides};
  }
};

TEST(RegionCopy, CopiesSelectedRowsAndColumns) {
  std::vector<int32_t> chunk(4 * 6);
  std::iota(chunk.begin(), chunk.end(), 0);
  std::vector<int32_t> out(3 * 5, -1);
  Grid2 g{{0, 2}, {3, 1}, {1, 2, 3}, {2, 3, 4}};  // rows 3 -> 0, 1 -> 2; cols 2..4 -> 1..3
  copy_region(g.geometry(6, 5), reinterpret_cast<const uint8_t*>(chunk.data()),
              reinterpret_cast<uint8_t*>(out.data()));
  const std::vector<int32_t> expected = {-1, 20, 21, 22, -1,  //
                                         -1, -1, -1, -1, -1,  //
                                         -1, 8,  9,  10, -1};
  EXPECT_EQ(out, expected);
}

TEST(RegionCopy, WholeContiguousRegionCollapsesToOneBlock) {
  Grid2 g{{0, 1}, {0, 1}, {0, 1, 2}, {0, 1, 2}};
  const RegionGeometry geom = g.geometry(3, 3);
  const Collapsed c = collapse_region(geom);
  EXPECT_EQ(c.outer, 0);
  EXPECT_EQ(c.block, 2 * 3 * 4);
  EXPECT_EQ(region_dst_offset(geom), 0);
}

TEST(RegionCopy, FillWritesThePatternOnlyInTheRegion) {
  std::vector<int32_t> out(2 * 4, 0);
  Grid2 g{{1}, {0}, {1, 2}, {0, 1}};
  const int32_t fill = 0x01020304;  // not a repeated byte: the per-item path
  fill_region(g.geometry(4, 4), reinterpret_cast<const uint8_t*>(&fill),
              reinterpret_cast<uint8_t*>(out.data()));
  const std::vector<int32_t> expected = {0, 0, 0, 0, 0, fill, fill, 0};
  EXPECT_EQ(out, expected);
}

TEST(RegionCopy, StridedAndReversedRunsNeedNoTables) {
  std::vector<int32_t> chunk(4 * 6);
  std::iota(chunk.begin(), chunk.end(), 0);
  std::vector<int32_t> out(2 * 3, -1);
  // rows 3, 1 (first 3, step -2) -> 0, 1; cols 0, 2, 4 (step 2) -> 0, 1, 2
  const AxisSpan spans[2] = {AxisSpan{Positions::run(0), Positions::run(3, -2), 2},
                             AxisSpan{Positions::run(0), Positions::run(0, 2), 3}};
  const int64_t src[2] = {4 * 6, 4}, dst[2] = {4 * 3, 4};
  const RegionGeometry g{2, 4, spans, src, dst};
  EXPECT_FALSE(spans[0].contiguous());
  EXPECT_EQ(spans[0].in_max(), 3);
  EXPECT_EQ(spans[1].in_max(), 4);
  copy_region(g, reinterpret_cast<const uint8_t*>(chunk.data()),
              reinterpret_cast<uint8_t*>(out.data()));
  EXPECT_EQ(out, (std::vector<int32_t>{18, 20, 22, 6, 8, 10}));
}

TEST(RegionCopy, TablesThatStepByOneBecomeRuns) {
  const std::vector<int64_t> out = {4, 5, 6}, in = {0, 1, 2}, gap = {0, 2, 3};
  const AxisSpan a = runs_detected(AxisSpan{Positions::of(out.data()), Positions::of(in.data()), 3});
  EXPECT_TRUE(a.contiguous());
  EXPECT_EQ(a.out.first, 4);
  const AxisSpan b = runs_detected(AxisSpan{Positions::of(out.data()), Positions::of(gap.data()), 3});
  EXPECT_FALSE(b.contiguous());
  EXPECT_EQ(b.in.table, gap.data());
}

}  // namespace
}  // namespace fastchunk
