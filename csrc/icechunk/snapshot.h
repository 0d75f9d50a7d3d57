// Icechunk snapshot files (snapshots/<id>): the nodes of one version of the
// repository, each a group or an array with its zarr.json and, for arrays,
// the manifests that hold its chunk references. Spec versions 1 and 2 share
// one schema (snapshot.fbs); version 2 moved the shape into shape_v2 and the
// manifest list into manifest_files_v2.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "icechunk/binary_file.h"
#include "icechunk/object_id.h"

namespace fastchunk {

// The chunk-grid region a manifest covers for one array: [from, to) per axis.
struct ManifestExtent {
  uint32_t from = 0;
  uint32_t to = 0;
};

struct ManifestPointer {
  ObjectId12 id{};
  std::vector<ManifestExtent> extents;  // one per axis
};

struct SnapshotNode {
  ObjectId8 id{};
  std::string path;       // "/" for the root, "/a/b" below it
  std::string user_data;  // the node's zarr.json
  bool is_array = false;
  std::vector<uint64_t> shape;  // arrays: the length of each axis
  std::vector<ManifestPointer> manifests;
};

struct Snapshot {
  uint8_t spec_version = 0;
  ObjectId12 id{};
  std::optional<ObjectId12> parent;  // spec 1 only
  uint64_t flushed_at = 0;           // microseconds since the epoch
  std::string message;
  std::vector<SnapshotNode> nodes;   // sorted by path, paths unique
};

// Parses a whole snapshot file (header, decompression, verification, and the
// spec's rules: valid and unique node paths, manifests with one
// extent per axis). Errors are Error(kMetadata) naming `what`, or
// Error(kUnsupported) for another format version.
Snapshot parse_snapshot(ByteView file, const std::string& what,
                        uint64_t max_payload = kMaxIcechunkPayload);

// Whether `path` is a node path as common.fbs defines it: "/" or "/a/b",
// no empty, "." or ".." segment, no trailing '/'.
bool valid_node_path(const std::string& path);

}  // namespace fastchunk
