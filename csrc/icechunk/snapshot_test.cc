#include "icechunk/snapshot.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "icechunk/virtual_condition.h"
#include "testing/icechunk_files.h"

namespace fastchunk {
namespace {

const std::array<uint8_t, 12> kId = {0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34};
const std::array<uint8_t, 12> kManifest = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
const std::array<uint8_t, 8> kNode = {8, 7, 6, 5, 4, 3, 2, 1};

std::vector<uint8_t> snapshot_file(const std::string& path,
                                   std::vector<std::array<uint32_t, 2>> extents = {{0, 4}, {0, 2}}) {
  const auto payload =
      testing::snapshot_payload(kId, path, kNode, {40, 10}, kManifest, extents);
  return testing::icechunk_file(IcechunkFileType::kSnapshot, payload.data(), payload.size());
}

TEST(SnapshotTest, ReadsNodesShapesAndManifests) {
  const auto file = snapshot_file("/group/temp");
  const Snapshot s = parse_snapshot(testing::view(file), "s");
  EXPECT_EQ(encode_object_id(s.id), "1CECHNKREP0F1RSTCMT0");
  EXPECT_FALSE(s.parent.has_value());
  EXPECT_EQ(s.message, "test commit");
  ASSERT_EQ(s.nodes.size(), 2u);
  EXPECT_EQ(s.nodes[0].path, "/");
  EXPECT_FALSE(s.nodes[0].is_array);
  const SnapshotNode& a = s.nodes[1];
  EXPECT_EQ(a.path, "/group/temp");
  EXPECT_TRUE(a.is_array);
  EXPECT_EQ(a.shape, (std::vector<uint64_t>{40, 10}));
  ASSERT_EQ(a.manifests.size(), 1u);
  EXPECT_EQ(a.manifests[0].extents[1].to, 2u);
  EXPECT_EQ(a.user_data, "{}");
}

TEST(SnapshotTest, RefusesBadPathsAndExtents) {
  for (const char* path : {"relative", "/a//b", "/a/../b", "/a/", "/./a"}) {
    const auto file = snapshot_file(path);
    EXPECT_THROW(parse_snapshot(testing::view(file), "s"), Error) << path;
  }
  const auto file = snapshot_file("/a", {{0, 4}});  // one extent for two axes
  EXPECT_THROW(parse_snapshot(testing::view(file), "s"), Error);
  EXPECT_TRUE(valid_node_path("/"));
  EXPECT_TRUE(valid_node_path("/a b/ü"));
}

TEST(VirtualConditionTest, LocalFilesAsObjectStoreSeesThem) {
  EXPECT_EQ(local_file_etag(0x1234, 1700000000123456789LL, 4096), "1234-60a2418202240-1000");
  EXPECT_EQ(bare_etag("W/\"abc\""), "abc");
  EXPECT_EQ(local_path_of("file:///data/my%20file.nc"), "/data/my file.nc");
  EXPECT_EQ(local_path_of("file://localhost/x"), "/x");
  EXPECT_EQ(local_path_of("file://host/x"), "");
  EXPECT_EQ(local_path_of("s3://bucket/x"), "");
  ChunkTarget t;
  t.location = "file:///x";
  t.last_modified = 100;
  EXPECT_NO_THROW(check_local_condition(t, "10:100000000000:5"));
  EXPECT_THROW(check_local_condition(t, "10:100000000001:5"), Error);
  t.last_modified = 0;
  t.etag = local_file_etag(5, 100000000000, 10);
  EXPECT_NO_THROW(check_local_condition(t, "10:100000000000:5"));
  EXPECT_THROW(check_local_condition(t, "11:100000000000:5"), Error);
}

}  // namespace
}  // namespace fastchunk
