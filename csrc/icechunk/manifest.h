// Icechunk manifest files (manifests/<id>): chunk references of one or more
// arrays (manifest.fbs, shared by spec versions 1 and 2; version 2 may
// compress virtual locations with a zstd dictionary kept in the manifest).
// A manifest is parsed and verified once, then the references of each array
// are collected from it into that array's ChunkRefTable.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "icechunk/binary_file.h"
#include "icechunk/chunk_refs.h"
#include "icechunk/object_id.h"
#include "icechunk/snapshot.h"

namespace fastchunk {

// Longest virtual location a compressed_location may decompress to (the
// writer's own limit).
constexpr size_t kMaxCompressedLocation = 1024;

class Manifest {
 public:
  // Header, decompression and verification of every array's references.
  // Errors are Error(kMetadata) naming `what`, or Error(kUnsupported) for
  // another format version.
  static std::shared_ptr<const Manifest> parse(ByteView file, const std::string& what,
                                               uint64_t max_payload = kMaxIcechunkPayload);

  const ObjectId12& id() const { return id_; }
  uint8_t spec_version() const { return spec_version_; }
  size_t nbytes() const { return payload_.capacity() + sizeof(*this); }
  // References in the whole manifest, all arrays together.
  uint64_t ref_count() const { return ref_count_; }
  // The arrays (node ids) the manifest holds references of.
  std::vector<ObjectId8> node_ids() const;

  // Adds to `table` the references of array `node` inside `extents` (one per
  // axis) and inside the table's grid; others are left out. A reference of
  // another rank, none of the three kinds, or a byte range that overflows is
  // an Error(kMetadata).
  void collect(const ObjectId8& node, const std::vector<ManifestExtent>& extents,
               ChunkRefTable& table, const std::string& what) const;

 private:
  Manifest() = default;
  std::vector<uint8_t> payload_;
  ObjectId12 id_{};
  uint8_t spec_version_ = 0;
  uint64_t ref_count_ = 0;
};

}  // namespace fastchunk
