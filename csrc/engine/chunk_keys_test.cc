#include "engine/chunk_keys.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fastchunk {
namespace {

KeySpec v3() { return KeySpec{"c/", '/', "c", false}; }
KeySpec v2() { return KeySpec{"", '.', "0", true}; }

TEST(ChunkKeys, BuildsKeysOfBothFormats) {
  const int64_t coords[3] = {1, 0, 12};
  EXPECT_EQ(chunk_key("a/b/", v3(), coords, 3, '/'), "a/b/c/1/0/12");
  EXPECT_EQ(chunk_key("", v2(), coords, 3, '.'), "1.0.12");
  EXPECT_EQ(chunk_key("", v2(), coords, 3, '/'), "1/0/12");
  EXPECT_EQ(chunk_key("x/", v3(), nullptr, 0, '/'), "x/c");
  EXPECT_EQ(chunk_key("", v2(), nullptr, 0, '.'), "0");
}

TEST(ChunkKeys, ParsesWhatItBuildsAndNothingElse) {
  std::vector<int64_t> coords;
  ASSERT_TRUE(parse_chunk_key("a/", v3(), 2, "a/c/3/17", coords));
  EXPECT_EQ(coords, (std::vector<int64_t>{3, 17}));
  ASSERT_TRUE(parse_chunk_key("", v2(), 2, "3/17", coords));  // nested v2 store
  EXPECT_EQ(coords, (std::vector<int64_t>{3, 17}));
  ASSERT_TRUE(parse_chunk_key("", v2(), 0, "0", coords));
  EXPECT_TRUE(coords.empty());
  for (const char* bad : {"a/c/3", "a/c/3/17/1", "a/c/3/x", "b/c/3/17", "a/c/3//17", "a/c/-3/1",
                          "a/c/3/99999999999999999999", "a/zarr.json", "a/c/3/17/"})
    EXPECT_FALSE(parse_chunk_key("a/", v3(), 2, bad, coords)) << bad;
  EXPECT_FALSE(parse_chunk_key("", KeySpec{"", '.', "0", false}, 2, "3/17", coords));
}

}  // namespace
}  // namespace fastchunk
