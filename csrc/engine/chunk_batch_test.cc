#include "engine/chunk_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <vector>

#include "common/error.h"

namespace fastchunk {
namespace {

// A raw (uncompressed) 4 x 6 int32 chunk, C order.
struct Raw46 {
  std::vector<int32_t> values = std::vector<int32_t>(24);
  BatchLayout layout;
  Raw46() {
    std::iota(values.begin(), values.end(), 0);
    layout.name = "t";
    layout.chunk_shape = {4, 6};
    layout.src_strides = {24, 4};
    layout.itemsize = 4;
    const int32_t fill = -9;
    layout.fill.resize(4);
    std::memcpy(layout.fill.data(), &fill, 4);
  }
  BatchChunk chunk(int32_t* dst, bool stored = true) const {
    BatchChunk c;
    c.key = "c/0/0";
    if (stored) {
      c.source = BatchSource::kBytes;
      c.encoded = ByteView{reinterpret_cast<const uint8_t*>(values.data()), 96};
    }
    c.dst = reinterpret_cast<uint8_t*>(dst);
    return c;
  }
};

BatchAxis range_axis(int64_t in0, int64_t in_step, int64_t out0, int64_t n, int64_t stride,
                     int64_t extent) {
  BatchAxis a;
  a.in.first = in0;
  a.in.step = in_step;
  a.out.first = out0;
  a.n = n;
  a.dst_stride = stride;
  a.dst_extent = extent;
  return a;
}

TEST(ChunkBatch, OrthogonalRegionAndDroppedAxis) {
  Raw46 r;
  std::vector<int32_t> out(3 * 5, -1);
  BatchChunk c = r.chunk(out.data());
  // rows 1..3 -> out rows 0..2; cols 0, 2, 4 -> out cols 1..3
  static const int64_t cols[] = {0, 2, 4};
  c.axes = {range_axis(1, 1, 0, 3, 20, 3), range_axis(0, 1, 1, 3, 4, 5)};
  c.axes[1].in.table = cols;
  decode_batch(r.layout, {c});
  EXPECT_EQ(out, (std::vector<int32_t>{-1, 6, 8, 10, -1, -1, 12, 14, 16, -1, -1, 18, 20, 22, -1}));

  std::vector<int32_t> row(6, -1);  // a[2, :]: axis 0 dropped
  BatchChunk d = r.chunk(row.data());
  d.axes = {range_axis(2, 1, 0, 1, 0, 1), range_axis(0, 1, 0, 6, 4, 6)};
  decode_batch(r.layout, {d});
  EXPECT_EQ(row, (std::vector<int32_t>{12, 13, 14, 15, 16, 17}));
}

TEST(ChunkBatch, PointsAndMissingChunks) {
  Raw46 r;
  std::vector<int32_t> out(4, 0);
  static const int64_t rows[] = {3, 0, 1}, cols[] = {5, 0, 2}, where[] = {2, 0, 3};
  BatchChunk c = r.chunk(out.data());
  c.points = true;
  c.axes = {range_axis(0, 1, 0, 3, 0, 1), range_axis(0, 1, 0, 3, 0, 1)};
  c.axes[0].in.table = rows;
  c.axes[1].in.table = cols;
  c.point_dst.table = where;
  c.point_dst_stride = 4;
  c.point_dst_extent = 4;
  BatchChunk missing = r.chunk(out.data(), false);
  missing.axes = {range_axis(0, 1, 1, 1, 4, 4), range_axis(0, 1, 0, 1, 0, 1)};
  decode_batch(r.layout, {c, missing});
  EXPECT_EQ(out, (std::vector<int32_t>{0, -9, 23, 8}));
}

TEST(ChunkBatch, PositionsOutsideTheChunkOrDestinationAreRejected) {
  Raw46 r;
  std::vector<int32_t> out(6, 0);
  BatchChunk c = r.chunk(out.data());
  c.axes = {range_axis(4, 1, 0, 1, 0, 1), range_axis(0, 1, 0, 6, 4, 6)};  // row 4 of 4
  EXPECT_THROW(decode_batch(r.layout, {c}), Error);
  c.axes = {range_axis(0, 1, 0, 1, 0, 1), range_axis(0, 1, 1, 6, 4, 6)};  // out col 6 of 6
  EXPECT_THROW(decode_batch(r.layout, {c}), Error);
  EXPECT_EQ(out, std::vector<int32_t>(6, 0));  // nothing written
}

TEST(ChunkBatch, ShortRawChunkNamesItsKey) {
  Raw46 r;
  std::vector<int32_t> out(24, 0);
  BatchChunk c = r.chunk(out.data());
  c.encoded.size = 90;
  c.axes = {range_axis(0, 1, 0, 4, 24, 4), range_axis(0, 1, 0, 6, 4, 6)};
  try {
    decode_batch(r.layout, {c});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kDecode);
    EXPECT_NE(std::string(e.what()).find("t: chunk 'c/0/0'"), std::string::npos);
  }
}

}  // namespace
}  // namespace fastchunk
