// One chunk's decode split over threads (codecs/chain.h: split_decode, and
// engine/chunk_task.h: decode_chunk_on): blosc blocks and zstd frames in
// pieces, around byte order and inside checksums, exactly as a whole decode.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "common/error.h"
#include "engine/chunk_task.h"

namespace fastchunk {
namespace {

std::vector<uint8_t> field(size_t n_floats) {
  std::vector<uint8_t> out(n_floats * 4);
  for (size_t i = 0; i < n_floats; ++i) {
    const float v = float(std::sin(double(i) / 70.0) * 300.0 + double(i % 13) / 7.0);
    std::memcpy(&out[i * 4], &v, 4);
  }
  return out;
}

ByteView view(const std::string& s) {
  return ByteView{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ChainSpec chain_of(std::vector<CodecStep> steps, const std::string& dtype = "<f4") {
  return build_chain(steps, dtype, 3);
}

CodecStep blosc_step(int64_t blocksize) {
  CodecConfig c;
  c.set_string("cname", "lz4").set_int("clevel", 5).set_string("shuffle", "shuffle");
  c.set_int("typesize", 4).set_int("blocksize", blocksize);
  return CodecStep{"blosc", c};
}

CodecStep zstd_step() {
  CodecConfig c;
  c.set_int("level", 3);
  return CodecStep{"zstd", c};
}

std::string encode(const ChainSpec& chain, const std::vector<uint8_t>& data) {
  std::string out;
  encode_chunk(chain, ByteView{data.data(), data.size()}, &out);
  return out;
}

// Every thread count decodes what decode_chunk decodes.
void expect_same_everywhere(const ChainSpec& chain, const std::string& stored,
                            const std::vector<uint8_t>& want) {
  for (int threads : {1, 2, 3, 8}) {
    std::vector<uint8_t> out(want.size(), 0xAB);
    decode_chunk_on(chain, view(stored), out.data(), out.size(), threads);
    EXPECT_EQ(out, want) << threads << " threads";
  }
}

TEST(SplitDecode, BloscBlocksSplitIntoPiecesThatCoverTheChunk) {
  const auto data = field(100000);  // 400 kB, blocks of 32 KiB: 13 blocks
  const ChainSpec chain = chain_of({blosc_step(32768)});
  const std::string stored = encode(chain, data);
  SplitDecode plan;
  ASSERT_TRUE(split_decode(chain, view(stored), data.size(), 4, &plan));
  ASSERT_EQ(plan.pieces.size(), 4u);
  size_t at = 0;
  for (const DecodePiece& p : plan.pieces) {
    EXPECT_EQ(p.out_begin, at);
    EXPECT_EQ(p.out_begin % 32768, 0u);
    at = p.out_end;
  }
  EXPECT_EQ(at, data.size());
  std::vector<uint8_t> out(data.size());
  for (size_t i = plan.pieces.size(); i-- > 0;) decode_piece(plan, i, out.data());
  EXPECT_EQ(out, data);
  expect_same_everywhere(chain, stored, data);
}

TEST(SplitDecode, ByteOrderAndChecksumsAroundTheSplitCodec) {
  const auto data = field(60000);
  CodecConfig big;
  big.set_string("endian", "big");
  const ChainSpec chain = chain_of({{"bytes", big}, blosc_step(16384), {"crc32c", CodecConfig{}}});
  const std::string stored = encode(chain, data);
  std::vector<uint8_t> want(data.size());
  decode_chunk(chain, view(stored), want.data(), want.size());
  EXPECT_EQ(want, data);
  SplitDecode plan;
  EXPECT_TRUE(split_decode(chain, view(stored), data.size(), 2, &plan));
  expect_same_everywhere(chain, stored, data);
  // A damaged checksum fails the split decode as it fails the whole one.
  std::string bad = stored;
  bad[bad.size() - 1] ^= 1;
  std::vector<uint8_t> out(data.size());
  EXPECT_THROW(decode_chunk_on(chain, view(bad), out.data(), out.size(), 2), Error);
}

TEST(SplitDecode, ZstdSplitsOnlyWhereAChunkHasSeveralFrames) {
  const auto data = field(90000);
  const ChainSpec chain = chain_of({zstd_step()});
  const std::string one = encode(chain, data);
  SplitDecode plan;
  EXPECT_FALSE(split_decode(chain, view(one), data.size(), 4, &plan));  // one frame
  expect_same_everywhere(chain, one, data);
  // Three frames, each a third of the chunk.
  std::string frames;
  const size_t third = data.size() / 3;
  for (int k = 0; k < 3; ++k) {
    const std::vector<uint8_t> part(data.begin() + long(k * third),
                                    k == 2 ? data.end() : data.begin() + long((k + 1) * third));
    frames += encode(chain, part);
  }
  ASSERT_TRUE(split_decode(chain, view(frames), data.size(), 2, &plan));
  EXPECT_EQ(plan.pieces.size(), 2u);
  EXPECT_EQ(plan.pieces.back().out_end, data.size());
  expect_same_everywhere(chain, frames, data);
}

TEST(SplitDecode, LyingHeadersAreDecodeErrors) {
  const auto data = field(50000);
  const ChainSpec chain = chain_of({blosc_step(16384)});
  const std::string stored = encode(chain, data);
  std::vector<uint8_t> out(data.size() + 4);
  SplitDecode plan;
  EXPECT_THROW(split_decode(chain, view(stored), out.size(), 2, &plan), Error);  // wrong size
  std::string cut = stored.substr(0, stored.size() / 2);
  EXPECT_THROW(decode_chunk_on(chain, view(cut), out.data(), data.size(), 2), Error);
}

TEST(SplitDecode, FewerChunksThanThreadsShareTheIdleOnes) {
  EXPECT_EQ(decode_threads_per_task(1, 8), 8);
  EXPECT_EQ(decode_threads_per_task(3, 8), 2);
  EXPECT_EQ(decode_threads_per_task(8, 8), 1);
  EXPECT_EQ(decode_threads_per_task(20, 8), 1);
  EXPECT_EQ(decode_threads_per_task(0, 8), 1);
}

}  // namespace
}  // namespace fastchunk
