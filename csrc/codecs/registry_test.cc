#include "codecs/registry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "codecs/chain.h"
#include "common/error.h"
#include "testing/codec_samples.h"

namespace fastchunk {
namespace {

using testing::decode_all;
using testing::sample_bytes;
using testing::single;

// A configuration for each codec that needs one to be built at all.
CodecConfig config_for(const std::string& name, const std::string& dtype) {
  CodecConfig c;
  if (name == "delta") c.set_string("dtype", dtype);
  if (name == "bytes") c.set_string("endian", "big");
  return c;
}

std::string round_trip_dtype(const std::string& name) {
  return name == "delta" ? "<i8" : "<f8";
}

TEST(Registry, NamesAreUniqueAndFound) {
  const auto& all = registered_codecs();
  ASSERT_GE(all.size(), 11u);
  for (const CodecDefinition* def : all) {
    EXPECT_EQ(find_codec(def->name), def) << def->name;
    EXPECT_NE(def->names, 0u) << def->name;
  }
  EXPECT_EQ(find_codec("no-such-codec"), nullptr);
  EXPECT_THROW(make_codec("no-such-codec", CodecConfig(), CodecContext{}), Error);
}

// Every registered codec, with its default configuration, encodes what it decodes.
TEST(Registry, RoundTripThroughEveryCodec) {
  for (const CodecDefinition* def : registered_codecs()) {
    const std::string dtype = round_trip_dtype(def->name);
    const ChainSpec chain = single(def->name, config_for(def->name, dtype), dtype);
    ASSERT_EQ(chain.codecs.size(), 1u) << def->name;
    for (size_t n_items : {size_t(0), size_t(1), size_t(1000), size_t(70000)}) {
      const std::vector<uint8_t> data = sample_bytes(n_items, 8);
      std::string encoded;
      encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
      EXPECT_EQ(decode_all(chain, encoded, data.size()), data) << def->name << " " << n_items;
      const KnownSize fixed = encoded_size(chain, data.size());
      if (fixed) EXPECT_EQ(*fixed, encoded.size()) << def->name;
    }
  }
}

// The configuration a codec writes builds the same codec back.
TEST(Registry, ConfigurationsRebuildTheCodec) {
  for (const CodecDefinition* def : registered_codecs()) {
    const std::string dtype = round_trip_dtype(def->name);
    const CodecContext context{ElementType::parse(dtype), 3};
    const auto codec = make_codec(def->name, config_for(def->name, dtype), context);
    const CodecConfig written = codec->configuration(3);
    const auto again = make_codec(def->name, written, context);
    EXPECT_EQ(again->configuration(3).items(), written.items()) << def->name;
  }
}

TEST(Registry, InvalidAndUnsupportedConfigurations) {
  const CodecContext ctx{ElementType::parse("<f8"), 3};
  CodecConfig bad_level;
  bad_level.set_string("level", "high");
  try {
    make_codec("zstd", bad_level, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kMetadata);
    EXPECT_NE(std::string(e.what()).find("zstd"), std::string::npos);
  }
  CodecConfig raw_lzma;
  raw_lzma.set_int("format", 3);
  try {
    make_codec("lzma", raw_lzma, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  }
  CodecConfig half_delta;
  half_delta.set_string("dtype", "<f2");
  EXPECT_THROW(make_codec("delta", half_delta, ctx), Error);
  CodecConfig gzip_12;
  gzip_12.set_int("level", 12);
  EXPECT_THROW(make_codec("gzip", gzip_12, ctx), Error);  // when built, not at encode time
}

// Each codec is built on the base class of the kind it is registered as,
// and its abilities are values that hold together.
TEST(Registry, EveryCodecIsOfItsKindWithItsAbilities) {
  for (const CodecDefinition* def : registered_codecs()) {
    const std::string dtype = round_trip_dtype(def->name);
    const auto codec = make_codec(def->name, config_for(def->name, dtype),
                                  CodecContext{ElementType::parse(dtype), 3});
    EXPECT_EQ(codec->kind(), def->kind) << def->name;
    const CodecAbilities& a = codec->abilities();
    if (a.element_alignment) EXPECT_NE(a.in_place, nullptr) << def->name;
    if (a.trailer) EXPECT_EQ(codec->kind(), CodecKind::kBytesToBytes) << def->name;
    const bool compressor = !codec->encoded_size(64);
    EXPECT_EQ(compressor, def->kind == CodecKind::kBytesToBytes &&
                              std::string(def->name) != "crc32c" &&
                              std::string(def->name) != "shuffle")
        << def->name;
    if (a.split || a.partial) EXPECT_TRUE(compressor) << def->name;
  }
}

// A configuration is checked against its ranges when the codec is built
// (never first at encode time), by the codec's one binder, and the binder
// writes back what it read.
TEST(ConfigBinder, RangesAreCheckedWhenACodecIsBuilt) {
  const CodecContext ctx{ElementType::parse("<f8"), 3};
  const struct {
    const char* codec;
    const char* key;
    int64_t value;
  } bad[] = {{"zstd", "level", 99},       {"zstd", "level", -200000}, {"blosc", "clevel", 10},
             {"blosc", "shuffle", 3},     {"blosc", "blocksize", -1}, {"gzip", "level", 10},
             {"zlib", "level", -1},       {"bz2", "level", 0},        {"lz4", "acceleration", 0},
             {"lzma", "preset", 10},      {"lzma", "check", 99},      {"shuffle", "elementsize", -1}};
  for (const auto& b : bad) {
    CodecConfig c;
    c.set_int(b.key, b.value);
    try {
      make_codec(b.codec, c, ctx);
      ADD_FAILURE() << b.codec << " " << b.key << " " << b.value << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << b.codec << " " << b.key;
      EXPECT_NE(std::string(e.what()).find(b.key), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(b.codec), std::string::npos) << e.what();
    }
  }
  CodecConfig cname;
  cname.set_string("cname", "snappy");
  EXPECT_THROW(make_codec("blosc", cname, ctx), Error);
  CodecConfig endian;
  endian.set_string("endian", "middle");
  EXPECT_THROW(make_codec("bytes", endian, ctx), Error);
  // Read and written back by the same binder: numcodecs' v2 spellings too.
  CodecConfig v2;
  v2.set_string("cname", "zstd").set_int("clevel", 7).set_int("shuffle", -1).set_int("blocksize", 0);
  const auto blosc = make_codec("blosc", v2, CodecContext{ElementType::parse("|u1"), 2});
  const CodecConfig back = blosc->configuration(2);
  EXPECT_EQ(back.get_int("shuffle", -9), 2);  // AUTOSHUFFLE of 1-byte items: bit shuffle
  EXPECT_EQ(back.get_string("cname", ""), "zstd");
  EXPECT_EQ(blosc->configuration(3).get_string("shuffle", ""), "bitshuffle");
}

TEST(Codecs, ShuffleMatchesNumcodecsLayout) {
  CodecConfig c;
  c.set_int("elementsize", 4);
  const ChainSpec chain = single("shuffle", c, "<u4");
  const std::vector<uint8_t> data = {0, 1, 2, 3, 4, 5, 6, 7};
  std::string encoded;
  encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
  EXPECT_EQ(encoded, std::string("\x00\x04\x01\x05\x02\x06\x03\x07", 8));
  EXPECT_EQ(decode_all(chain, encoded, 8), data);
  // Not whole elements: a decode error, never a partial result.
  std::vector<uint8_t> out(6);
  EXPECT_THROW(decode_chunk(chain, ByteView{data.data(), 6}, out.data(), 6), Error);
}

TEST(Codecs, DeltaSumsInThePromotedTypeAndWraps) {
  CodecConfig c;
  c.set_string("dtype", "<i2").set_string("astype", "<i1");
  const ChainSpec chain = single("delta", c, "<i2");
  const int8_t stored[] = {100, 100, 100};
  std::vector<int16_t> out(3);
  decode_chunk(chain, ByteView{reinterpret_cast<const uint8_t*>(stored), 3},
               reinterpret_cast<uint8_t*>(out.data()), 6);
  EXPECT_EQ(out, (std::vector<int16_t>{100, 200, 300}));
  CodecConfig big;
  big.set_string("dtype", ">u2");
  const ChainSpec wraps = single("delta", big, ">u2");
  const uint8_t be[] = {0xFF, 0xFF, 0x00, 0x02};  // 65535, +2 -> 1
  uint8_t sum[4];
  decode_chunk(wraps, ByteView{be, 4}, sum, 4);
  EXPECT_EQ(std::vector<uint8_t>(sum, sum + 4), (std::vector<uint8_t>{0xFF, 0xFF, 0x00, 0x01}));
}

TEST(Codecs, ByteOrderIsACodec) {
  CodecConfig big;
  big.set_string("endian", "big");
  const ChainSpec chain = single("bytes", big, "<c8");  // complex: two 4-byte words
  const std::vector<uint8_t> stored = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<uint8_t> out(8);
  decode_chunk(chain, ByteView{stored.data(), 8}, out.data(), 8);
  EXPECT_EQ(out, (std::vector<uint8_t>{4, 3, 2, 1, 8, 7, 6, 5}));
  CodecConfig little;
  little.set_string("endian", "little");
  EXPECT_TRUE(single("bytes", little, "<f8").codecs.empty());  // nothing to do: left out
}



// Headers that lie are rejected before anything is allocated for them.
TEST(HostileHeaders, AnnouncedSizesAndBestRatios) {
  const std::vector<uint8_t> data = sample_bytes(4096, 8);
  for (const char* name : {"zstd", "blosc", "lz4", "gzip", "zlib", "bz2", "lzma"}) {
    const ChainSpec chain = single(name, CodecConfig(), "<f8");
    std::string encoded;
    encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
    const ByteView in{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()};
    // One byte more or less than the stream holds.
    for (size_t size : {data.size() - 1, data.size() + 1}) {
      std::vector<uint8_t> out(size);
      EXPECT_THROW(decode_chunk(chain, in, out.data(), size), Error) << name << " " << size;
    }
    // A chunk far larger than a tiny stream can decode to.
    const size_t huge = size_t(1) << 40;
    if (std::string(name) != "lzma")  // lzma's ratio has no simple bound; its index tells
      EXPECT_THROW(check_announced_size(chain, ByteView{in.data, 16}, huge), Error) << name;
    // Truncated and corrupted streams.
    std::vector<uint8_t> out(data.size());
    EXPECT_THROW(decode_chunk(chain, ByteView{in.data, in.size / 2}, out.data(), out.size()), Error)
        << name;
    std::string flipped = encoded;
    for (size_t i = 0; i < flipped.size(); i += 7) flipped[i] = char(flipped[i] ^ 0x5A);
    EXPECT_THROW(decode_chunk(chain,
                              ByteView{reinterpret_cast<const uint8_t*>(flipped.data()),
                                       flipped.size()},
                              out.data(), out.size()),
                 Error)
        << name;
  }
}

TEST(HostileHeaders, AnnouncingCodecsAreCheckedBeforeDecoding) {
  const std::vector<uint8_t> data = sample_bytes(1000, 8);
  for (const char* name : {"zstd", "blosc", "lz4", "lzma"}) {
    const ChainSpec chain = single(name, CodecConfig(), "<f8");
    std::string encoded;
    encode_chunk(chain, ByteView{data.data(), data.size()}, &encoded);
    const ByteView in{reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size()};
    EXPECT_EQ(chain.codecs[0]->decoded_size(in), KnownSize(data.size())) << name;
    EXPECT_THROW(check_announced_size(chain, in, data.size() * 2), Error) << name;
  }
}

TEST(HostileHeaders, LzmaDictionaryLargerThanAllowedIsRefused) {
  // A .lzma header asking for a 4 GiB dictionary: refused, not allocated.
  CodecConfig alone;
  alone.set_int("format", 2);
  const ChainSpec chain = single("lzma", alone, "|u1");
  uint8_t header[32] = {0x5D, 0xFF, 0xFF, 0xFF, 0xFF};
  for (int i = 5; i < 13; ++i) header[i] = 0xFF;  // size unknown
  std::vector<uint8_t> out(64);
  try {
    decode_chunk(chain, ByteView{header, sizeof(header)}, out.data(), out.size());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  }
}



}  // namespace
}  // namespace fastchunk
