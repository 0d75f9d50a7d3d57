#include "plan/transpose_copy.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

namespace fastchunk {
namespace {

// A chunk of (dates, vars, points) copied into an output laid out
// (dates, points, vars) (anemoi-training's order), every axis a run or,
// for the variables, a table: the tiled path must write exactly what the
// element-by-element definition gives, partial tiles included.
template <typename T>
void check_transposed(int64_t dates, int64_t vars, int64_t points, bool var_table,
                      int64_t first_point, int64_t npoints) {
  std::vector<T> chunk(size_t(dates * vars * points));
  std::iota(chunk.begin(), chunk.end(), T(1));
  std::vector<int64_t> var_in(static_cast<size_t>(vars)), var_out(static_cast<size_t>(vars));
  for (int64_t v = 0; v < vars; ++v) {
    var_in[size_t(v)] = var_table ? vars - 1 - v : v;  // reversed: a table
    var_out[size_t(v)] = v;
  }
  const int64_t isz = sizeof(T);
  std::vector<AxisSpan> spans = {
      AxisSpan{Positions::run(0), Positions::run(0), dates},
      var_table ? AxisSpan{Positions::of(var_out.data()), Positions::of(var_in.data()), vars}
                : AxisSpan{Positions::run(0), Positions::run(0), vars},
      AxisSpan{Positions::run(0), Positions::run(first_point), npoints}};
  const int64_t src_strides[3] = {vars * points * isz, points * isz, isz};
  const int64_t dst_strides[3] = {npoints * vars * isz, isz, vars * isz};
  const RegionGeometry g{3, isz, spans.data(), src_strides, dst_strides};
  std::vector<T> out(size_t(dates * npoints * vars), T(0));
  ASSERT_TRUE(copy_transposed(g, reinterpret_cast<const uint8_t*>(chunk.data()),
                              reinterpret_cast<uint8_t*>(out.data())));
  for (int64_t d = 0; d < dates; ++d)
    for (int64_t p = 0; p < npoints; ++p)
      for (int64_t v = 0; v < vars; ++v) {
        const T want = chunk[size_t((d * vars + var_in[size_t(v)]) * points + first_point + p)];
        ASSERT_EQ(out[size_t((d * npoints + p) * vars + v)], want) << d << " " << p << " " << v;
      }
  // copy_region takes the same path and gives the same bytes.
  std::vector<T> again(out.size(), T(0));
  copy_region(g, reinterpret_cast<const uint8_t*>(chunk.data()),
              reinterpret_cast<uint8_t*>(again.data()));
  EXPECT_EQ(again, out);
}

TEST(TransposeCopy, FourByteItemsWholeTilesAndPartialOnes) {
  check_transposed<uint32_t>(2, 32, 64, false, 0, 64);
  check_transposed<uint32_t>(3, 27, 1000, false, 0, 1000);
  check_transposed<uint32_t>(1, 27, 1000, false, 13, 611);
}

TEST(TransposeCopy, VariablesFromATable) { check_transposed<uint32_t>(2, 19, 200, true, 5, 150); }

TEST(TransposeCopy, OtherItemSizes) {
  check_transposed<uint8_t>(2, 20, 100, false, 0, 100);
  check_transposed<uint16_t>(2, 17, 90, true, 3, 80);
  check_transposed<uint64_t>(2, 33, 70, false, 1, 60);
}

TEST(TransposeCopy, DeclinesOutputsInChunkOrder) {
  std::vector<uint32_t> chunk(4 * 32), out(4 * 32);
  std::vector<AxisSpan> spans = {AxisSpan{Positions::run(0), Positions::run(0), 4},
                                 AxisSpan{Positions::run(0), Positions::run(0), 32}};
  const int64_t strides[2] = {32 * 4, 4};
  const RegionGeometry g{2, 4, spans.data(), strides, strides};
  EXPECT_FALSE(copy_transposed(g, reinterpret_cast<const uint8_t*>(chunk.data()),
                               reinterpret_cast<uint8_t*>(out.data())));
}

}  // namespace
}  // namespace fastchunk
