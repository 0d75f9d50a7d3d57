// Decoding only the part of a chunk a selection needs: the needed bytes of
// the region come out right, and a region of most of the chunk is decoded
// whole instead (kWorthwhileFraction).
#include "engine/partial_decode.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "testing/codec_samples.h"

namespace fastchunk {
namespace {

using testing::sample_bytes;

constexpr int64_t kRows = 200, kCols = 1000, kItem = 8;

struct Region {
  std::vector<AxisSpan> spans;
  int64_t src_strides[2] = {kCols * kItem, kItem};
  int64_t dst_strides[2];
  RegionGeometry geometry() const {
    return RegionGeometry{2, kItem, spans.data(), src_strides, dst_strides};
  }
};

// Rows [r0, r0 + nr) and columns [c0, c0 + nc) of the chunk.
Region rows_and_cols(int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  Region r;
  r.spans = {AxisSpan{Positions::run(0), Positions::run(r0), nr},
             AxisSpan{Positions::run(0), Positions::run(c0), nc}};
  r.dst_strides[0] = nc * kItem;
  r.dst_strides[1] = kItem;
  return r;
}

std::string encoded(const ChainSpec& chain, const std::vector<uint8_t>& data) {
  std::string out;
  encode_chunk(chain, ByteView{data.data(), data.size()}, &out);
  return out;
}

ByteView view(const std::string& s) {
  return ByteView{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void expect_region(const std::vector<uint8_t>& chunk, const std::vector<uint8_t>& data,
                   int64_t r0, int64_t nr, int64_t c0, int64_t nc) {
  for (int64_t r = r0; r < r0 + nr; ++r) {
    const size_t at = size_t((r * kCols + c0) * kItem);
    EXPECT_EQ(std::memcmp(chunk.data() + at, data.data() + at, size_t(nc * kItem)), 0) << r;
  }
}

TEST(PartialDecode, BloscDecodesTheBlocksOfARegion) {
  CodecConfig blosc;
  blosc.set_string("cname", "lz4").set_int("blocksize", 16384);
  const ChainSpec chain = testing::single("blosc", blosc, "<f8");
  const std::vector<uint8_t> data = sample_bytes(size_t(kRows * kCols), kItem);
  const std::string stored = encoded(chain, data);
  std::vector<uint8_t> chunk(data.size(), 0);
  const Region few = rows_and_cols(120, 3, 10, 50);
  ASSERT_TRUE(decode_needed_part(chain, view(stored), few.geometry(), chunk.data(), chunk.size()));
  expect_region(chunk, data, 120, 3, 10, 50);
  // The whole chunk: a whole decode, not one block after the other.
  const Region most = rows_and_cols(0, kRows, 0, kCols);
  EXPECT_FALSE(decode_needed_part(chain, view(stored), most.geometry(), chunk.data(), chunk.size()));
}

// A slice of columns of every row, blocks spanning several rows (a grid
// slice of every variable): every block is needed, so the blocks are
// decompressed but only the slice's items unshuffled into place.
TEST(PartialDecode, BloscWritesOnlyTheColumnsOfEveryRowsBlocks) {
  CodecConfig blosc;
  blosc.set_string("cname", "lz4").set_int("blocksize", 3 * kCols * kItem + 4000);
  const ChainSpec chain = testing::single("blosc", blosc, "<f8");
  const std::vector<uint8_t> data = sample_bytes(size_t(kRows * kCols), kItem);
  const std::string stored = encoded(chain, data);
  for (int64_t c0 : {int64_t(0), int64_t(250), kCols - 250}) {
    std::vector<uint8_t> chunk(data.size(), 0xEE);
    const Region quarter = rows_and_cols(0, kRows, c0, 250);
    ASSERT_TRUE(
        decode_needed_part(chain, view(stored), quarter.geometry(), chunk.data(), chunk.size()));
    expect_region(chunk, data, 0, kRows, c0, 250);
    // Only the slice was written (the rest of a row is left as it was).
    const size_t outside = size_t((c0 ? 0 : 300) * kItem);
    EXPECT_EQ(chunk[outside], 0xEE) << c0;
  }
  // Most of every row: cheaper whole.
  std::vector<uint8_t> chunk(data.size(), 0);
  const Region most = rows_and_cols(0, kRows, 50, kCols - 100);
  EXPECT_FALSE(decode_needed_part(chain, view(stored), most.geometry(), chunk.data(), chunk.size()));
}

TEST(PartialDecode, ZstdDecodesThePrefixARegionEndsIn) {
  const ChainSpec chain = testing::single("zstd", CodecConfig(), "<f8");
  const std::vector<uint8_t> data = sample_bytes(size_t(kRows * kCols), kItem);
  const std::string stored = encoded(chain, data);
  std::vector<uint8_t> chunk(data.size(), 0);
  const Region early = rows_and_cols(2, 5, 100, 300);
  ASSERT_TRUE(decode_needed_part(chain, view(stored), early.geometry(), chunk.data(), chunk.size()));
  expect_region(chunk, data, 2, 5, 100, 300);
  const Region late = rows_and_cols(kRows - 2, 1, 0, 10);  // ends near the end: decode it whole
  EXPECT_FALSE(decode_needed_part(chain, view(stored), late.geometry(), chunk.data(), chunk.size()));
}

TEST(PartialDecode, CodecsWithoutPartialDecodingDecodeWhole) {
  const ChainSpec chain = testing::single("gzip", CodecConfig(), "<f8");
  const std::vector<uint8_t> data = sample_bytes(size_t(kRows * kCols), kItem);
  const std::string stored = encoded(chain, data);
  std::vector<uint8_t> chunk(data.size(), 0);
  const Region few = rows_and_cols(1, 1, 0, 10);
  EXPECT_FALSE(decode_needed_part(chain, view(stored), few.geometry(), chunk.data(), chunk.size()));
}

}  // namespace
}  // namespace fastchunk
