#include "io/fetched_source.h"

#include <gtest/gtest.h>

#include <string>

#include "common/error.h"

namespace fastchunk {
namespace {

ByteView view(const std::string& s) {
  return ByteView{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text(const ObjectBytes& got) {
  return std::string(reinterpret_cast<const char*>(got.bytes.data), got.bytes.size);
}

ErrorKind kind_of(FetchedSource& source, const std::string& key, const ByteRange& range) {
  ByteBuffer storage;
  ObjectBytes got;
  try {
    source.get(key, range, storage, got);
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kOk;
}

TEST(FetchedSource, ServesRangesInsideProvidedPieces) {
  const std::string piece = "3456789";
  FetchedSource source;
  source.provide("k", ByteRange::slice(3, 7), view(piece), kUnknownObjectSize);
  EXPECT_TRUE(source.has("k", ByteRange::slice(4, 2)));
  EXPECT_TRUE(source.has("k", ByteRange::slice(3, 7)));
  EXPECT_FALSE(source.has("k", ByteRange::slice(2, 2)));
  EXPECT_FALSE(source.has("k", ByteRange::suffix(2)));  // the size is unknown
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("k", ByteRange::slice(5, 3), storage, got));
  EXPECT_EQ(text(got), "567");
  EXPECT_EQ(kind_of(source, "k", ByteRange::slice(0, 2)), ErrorKind::kNotFetched);
  EXPECT_EQ(kind_of(source, "other", ByteRange::whole()), ErrorKind::kNotFetched);
}

TEST(FetchedSource, ATailBringsTheObjectSize) {
  const std::string tail = "789";
  FetchedSource source;
  source.provide("k", ByteRange::suffix(3), view(tail), 10);
  EXPECT_TRUE(source.has("k", ByteRange::suffix(2)));
  EXPECT_TRUE(source.has("k", ByteRange::slice(8, 2)));
  ByteBuffer storage;
  ObjectBytes got;
  ASSERT_TRUE(source.get("k", ByteRange::suffix(2), storage, got));
  EXPECT_EQ(text(got), "89");
  EXPECT_EQ(got.object_size, 10u);
  EXPECT_EQ(kind_of(source, "k", ByteRange::slice(9, 5)), ErrorKind::kDecode);  // outside
}

TEST(FetchedSource, WrongLengthsAreDecodeErrors) {
  FetchedSource source;
  const std::string two = "ab";
  EXPECT_THROW(source.provide("k", ByteRange::slice(0, 3), view(two), kUnknownObjectSize), Error);
  EXPECT_THROW(source.provide("k", ByteRange::suffix(3), view(two), 10), Error);
  EXPECT_THROW(source.provide("k", ByteRange::whole(), view(two), 5), Error);
}

TEST(FetchedSource, MissingObjectsAndRelease) {
  FetchedSource source;
  source.provide_missing("gone");
  EXPECT_TRUE(source.known_missing("gone"));
  EXPECT_TRUE(source.has("gone", ByteRange::slice(0, 10)));
  ByteBuffer storage;
  ObjectBytes got;
  EXPECT_FALSE(source.get("gone", ByteRange::whole(), storage, got));
  const std::string all = "xyz";
  source.provide("k", ByteRange::whole(), view(all), all.size());
  EXPECT_TRUE(source.has("k", ByteRange::suffix(1)));
  source.release("k");
  EXPECT_FALSE(source.has("k", ByteRange::whole()));
}

}  // namespace
}  // namespace fastchunk
