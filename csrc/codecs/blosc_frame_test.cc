#include "codecs/blosc_frame.h"

#include <blosc.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"

namespace fastchunk {
namespace {

std::vector<uint8_t> field_bytes(size_t nbytes, uint32_t seed) {
  std::vector<uint8_t> out(nbytes);
  uint32_t state = seed;
  for (size_t i = 0; i < nbytes; ++i) {
    state = state * 1664525u + 1013904223u;
    out[i] = uint8_t(std::lround(std::sin(double(i / 4) / 40.0) * 60.0)) ^ uint8_t(state >> 29);
  }
  return out;
}

std::vector<uint8_t> compress(const std::vector<uint8_t>& data, const char* cname, int shuffle,
                              size_t typesize, size_t blocksize, int clevel = 5) {
  std::vector<uint8_t> frame(data.size() + BLOSC_MAX_OVERHEAD);
  const int n = blosc_compress_ctx(clevel, shuffle, typesize, data.size(), data.data(),
                                   frame.data(), frame.size(), cname, blocksize, 1);
  EXPECT_GT(n, 0);
  frame.resize(size_t(n));
  return frame;
}

ByteView view(const std::vector<uint8_t>& v) { return ByteView{v.data(), v.size()}; }

// Every layout c-blosc writes (split and unsplit streams, leftover blocks,
// stored streams, plain copies) decodes to what c-blosc decodes, block by block.
TEST(BloscFrame, BlocksDecodeAsCBloscDoes) {
  int frames = 0;
  for (const char* cname : {"lz4", "lz4hc", "zlib", "zstd"}) {
    for (int shuffle : {0, 1}) {
      for (size_t typesize : {1, 2, 4, 8, 12, 16, 17}) {
        for (size_t blocksize : {0, 256, 4096, 65536}) {
          for (size_t nbytes : {size_t(0), typesize * 5, typesize * 3001, typesize * 40000}) {
            for (int clevel : {0, 5}) {
              const std::vector<uint8_t> data = field_bytes(nbytes, uint32_t(nbytes + typesize));
              const std::vector<uint8_t> frame =
                  compress(data, cname, shuffle, typesize, blocksize, clevel);
              const BloscFrame f = parse_blosc_frame(view(frame));
              ASSERT_EQ(f.nbytes, nbytes);
              if (!nbytes) continue;
              ASSERT_TRUE(f.decodes_blocks()) << cname << " typesize " << typesize;
              std::vector<uint8_t> out(nbytes, 0xEE);
              for (size_t b = f.nblocks; b-- > 0;)  // any order, one block at a time
                decode_blosc_blocks(view(frame), f, b, b + 1, out.data());
              ASSERT_EQ(out, data) << cname << " shuffle " << shuffle << " typesize " << typesize
                                   << " blocksize " << blocksize << " nbytes " << nbytes;
              ++frames;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(frames, 600);
}

TEST(BloscFrame, LeavesBitshuffleAndBloscLzToCBlosc) {
  std::vector<uint8_t> data(40000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i / 64);
  EXPECT_FALSE(parse_blosc_frame(view(compress(data, "lz4", 2, 4, 0))).decodes_blocks());
  EXPECT_FALSE(parse_blosc_frame(view(compress(data, "blosclz", 1, 4, 0))).decodes_blocks());
}

// A frame whose streams lie (corrupt bytes, offsets past the end, streams
// longer than the frame) gives a decode Error, never a read outside it.
TEST(BloscFrame, CorruptStreamsAreDecodeErrors) {
  std::vector<uint8_t> data(4 * 200000);
  for (size_t i = 0; i < data.size() / 4; ++i) {
    const float v = float(std::sin(double(i) / 300.0) * 100.0);
    std::memcpy(&data[4 * i], &v, 4);
  }
  const std::vector<uint8_t> good = compress(data, "lz4", 1, 4, 4096);
  const BloscFrame f = parse_blosc_frame(view(good));
  ASSERT_GT(f.nblocks, 4u);
  ASSERT_FALSE(f.memcpyed());
  ASSERT_LT(good.size(), data.size());
  std::vector<uint8_t> out(data.size());
  int errors = 0;
  for (size_t pos = 16; pos < good.size(); pos += 1 + good.size() / 1500) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xFF)}) {
      std::vector<uint8_t> bad = good;
      bad[pos] ^= flip;
      try {
        decode_blosc_blocks(view(bad), f, 0, f.nblocks, out.data());
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kDecode);
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 0);
  std::vector<uint8_t> truncated(good.begin(), good.end() - 100);
  EXPECT_THROW(parse_blosc_frame(view(truncated)), Error);
}

// Runs of items of a block, written in part, equal the whole decode there
// and leave every other byte alone (split and unsplit streams, stored ones).
TEST(BloscFrame, ItemRunsOfABlockDecodeAsTheWholeBlockDoes) {
  int checked = 0;
  for (const char* cname : {"lz4", "zlib", "zstd"}) {
    for (size_t typesize : {2, 4, 8, 17}) {
      for (int clevel : {0, 5}) {
        const size_t nbytes = typesize * 40000;
        const std::vector<uint8_t> data = field_bytes(nbytes, uint32_t(typesize * 7 + clevel));
        const std::vector<uint8_t> frame = compress(data, cname, 1, typesize, 16384, clevel);
        const BloscFrame f = parse_blosc_frame(view(frame));
        const size_t items = f.blocksize / typesize;
        for (size_t b = 0; b < f.nblocks; ++b) {
          const bool whole = (b + 1) * f.blocksize <= nbytes;
          ASSERT_EQ(blosc_block_decodes_items(f, b), whole && !f.memcpyed() && typesize <= 16)
              << b;
          if (!blosc_block_decodes_items(f, b)) continue;
          const ItemRuns runs = {{0, 1}, {3, 3}, {5, items / 3}, {items / 2, items / 2 + 7},
                                 {items - 2, items}};
          std::vector<uint8_t> out(nbytes, 0xEE);
          decode_blosc_block_items(view(frame), f, b, runs, out.data());
          std::vector<uint8_t> want(nbytes, 0xEE);
          for (const auto& r : runs)
            std::memcpy(&want[b * f.blocksize + r.first * typesize],
                        &data[b * f.blocksize + r.first * typesize],
                        (r.second - r.first) * typesize);
          ASSERT_EQ(out, want) << cname << " typesize " << typesize << " block " << b;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 30);
}

TEST(BloscFrame, BadItemRunsAndCorruptStreamsAreDecodeErrors) {
  const std::vector<uint8_t> data = field_bytes(4 * 200000, 3);
  const std::vector<uint8_t> good = compress(data, "lz4", 1, 4, 4096);
  const BloscFrame f = parse_blosc_frame(view(good));
  const size_t items = f.blocksize / 4;
  std::vector<uint8_t> out(data.size());
  EXPECT_THROW(decode_blosc_block_items(view(good), f, 0, {{5, 9}, {2, 3}}, out.data()), Error);
  EXPECT_THROW(decode_blosc_block_items(view(good), f, 0, {{0, items + 1}}, out.data()), Error);
  EXPECT_THROW(decode_blosc_block_items(view(good), f, f.nblocks, {{0, 1}}, out.data()), Error);
  int errors = 0;
  for (size_t pos = 16; pos < good.size(); pos += 1 + good.size() / 700) {
    std::vector<uint8_t> bad = good;
    bad[pos] ^= 0xFF;
    for (size_t b = 0; b + 1 < f.nblocks; ++b) {
      try {
        decode_blosc_block_items(view(bad), f, b, {{1, items / 2}}, out.data());
      } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::kDecode);
        ++errors;
      }
    }
  }
  EXPECT_GT(errors, 0);
}

// Headers c-blosc refuses to decode are refused here too (an item size of 0
// decoded without error into wrong values before).
TEST(BloscFrame, HeadersCBloscRefusesAreRefused) {
  std::vector<uint8_t> data(4 * 5000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 / 13);
  const std::vector<uint8_t> good = compress(data, "lz4", 1, 4, 4096);
  const std::vector<uint8_t> copied = compress(data, "lz4", 0, 4, 0, 0);
  ASSERT_TRUE(parse_blosc_frame(view(copied)).memcpyed());
  auto refused = [&](std::vector<uint8_t> frame, const std::function<void(std::vector<uint8_t>&)>& edit,
                     const char* what) {
    edit(frame);
    std::vector<uint8_t> out(data.size());
    EXPECT_LT(blosc_decompress_ctx(frame.data(), out.data(), out.size(), 1), 0) << what;
    try {
      parse_blosc_frame(view(frame));
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kDecode) << what;
    }
  };
  refused(good, [](auto& f) { f[3] = 0; }, "item size 0");
  refused(good, [](auto& f) { f[2] |= 0x08; }, "reserved flag");
  refused(good, [](auto& f) { std::memset(&f[8], 0, 4); }, "block size 0");
  refused(good, [&](auto& f) {
    const uint32_t big = uint32_t(data.size() + 4096);
    std::memcpy(&f[8], &big, 4);
  }, "block size above the decoded size");
  refused(copied, [](auto& f) {
    f.push_back(0);
    const uint32_t cbytes = uint32_t(f.size());
    std::memcpy(&f[12], &cbytes, 4);
  }, "a copied frame longer than its bytes");
}

}  // namespace
}  // namespace fastchunk
