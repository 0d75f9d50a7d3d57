// The chain that decodes a stored chunk: filters around compressors, fixed
// sizes, and partial decoding through checksums and byte order.
#include "codecs/chain.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "testing/codec_samples.h"

namespace fastchunk {
namespace {

using testing::decode_all;
using testing::sample_bytes;
using testing::single;

// A v2 chain: byte order, delta, shuffle, then a compressor; and the v3
// order with checksums outside.
TEST(Chain, FiltersAroundCompressorsRoundTrip) {
  for (const char* compressor : {"bz2", "lzma", "zstd", "zlib", "blosc", "lz4", "gzip"}) {
    CodecConfig big, delta, shuffle;
    big.set_string("endian", "big");
    delta.set_string("dtype", ">i4");
    shuffle.set_int("elementsize", 4);
    const ChainSpec chain = build_chain({{"bytes", big}, {"delta", delta}, {"shuffle", shuffle},
                                         {compressor, CodecConfig()}, {"crc32c", CodecConfig()}},
                                        "<i4", 2);
    ASSERT_EQ(chain.codecs.size(), 5u);
    const std::vector<uint8_t> data = sample_bytes(5000, 4, 7);
    std::string encoded;
    encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
    EXPECT_EQ(decode_all(chain, encoded, data.size()), data) << compressor;
  }
}

TEST(Chain, FixedSizesAndWhatTheyCheck) {
  CodecConfig delta;
  delta.set_string("dtype", "<i8").set_string("astype", "<i2");
  const ChainSpec chain = build_chain({{"delta", delta}, {"crc32c", CodecConfig()}}, "<i8", 3);
  EXPECT_EQ(encoded_size(chain, 800), KnownSize(200 + 4));
  const std::vector<uint8_t> wrong(205);
  EXPECT_THROW(check_announced_size(chain, ByteView{wrong.data(), wrong.size()}, 800), Error);
  const ChainSpec with_zstd = build_chain({{"zstd", CodecConfig()}}, "<i8", 3);
  EXPECT_EQ(encoded_size(with_zstd, 800), std::nullopt);
}

// Partial decoding through the chain: checksums verified, byte order applied
// to the decoded blocks only.
TEST(Chain, PartialDecodeOfBloscBlocksWithByteOrder) {
  CodecConfig big, blosc;
  big.set_string("endian", "big");
  blosc.set_int("blocksize", 4096).set_string("cname", "lz4");
  const ChainSpec chain = build_chain({{"bytes", big}, {"blosc", blosc}, {"crc32c", {}}}, "<f8", 3);
  const std::vector<uint8_t> data = sample_bytes(200000, 8);  // c-blosc picks 64 KiB blocks
  std::string encoded;
  encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
  const ByteView in{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()};
  NeededBytes needed;
  needed.starts = {8 * 1000, 8 * 150000};
  needed.run = 8 * 10;
  needed.end = 8 * 150010;
  std::vector<uint8_t> out(data.size(), 0);
  ASSERT_TRUE(decode_chunk_part(chain, in, needed, out.data(), out.size()));
  for (int64_t s : needed.starts)
    EXPECT_EQ(std::memcmp(out.data() + s, data.data() + s, size_t(needed.run)), 0);
  // A corrupt checksum is caught on the partial path too.
  std::string bad = encoded;
  bad[bad.size() - 1] = char(bad[bad.size() - 1] ^ 1);
  EXPECT_THROW(decode_chunk_part(chain,
                                 ByteView{reinterpret_cast<const uint8_t*>(bad.data()), bad.size()},
                                 needed, out.data(), out.size()),
               Error);
}

TEST(Chain, PartialDecodeOfAZstdPrefix) {
  const ChainSpec chain = single("zstd", CodecConfig(), "<f8");
  const std::vector<uint8_t> data = sample_bytes(20000, 8);
  std::string encoded;
  encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
  NeededBytes needed;
  needed.starts = {0};
  needed.run = 800;
  needed.end = 800;
  std::vector<uint8_t> out(data.size(), 0);
  ASSERT_TRUE(decode_chunk_part(
      chain, ByteView{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()}, needed,
      out.data(), out.size()));
  EXPECT_EQ(std::memcmp(out.data(), data.data(), 800), 0);
  // Most of the chunk: a whole decode is as cheap.
  needed.end = data.size() - 8;
  EXPECT_FALSE(decode_chunk_part(
      chain, ByteView{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()}, needed,
      out.data(), out.size()));
}

}  // namespace
}  // namespace fastchunk
