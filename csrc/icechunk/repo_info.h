// The repo info file of spec version 2 repositories ($ROOT/repo, repo.fbs):
// branches, tags and the snapshots they point to. (Version 1 repositories
// keep refs as JSON files under refs/ instead.)
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "common/buffer.h"
#include "icechunk/binary_file.h"
#include "icechunk/object_id.h"

namespace fastchunk {

struct RepoRef {
  std::string name;
  ObjectId12 snapshot{};
};

struct RepoSnapshotInfo {
  ObjectId12 id{};
  int32_t parent = -1;  // index into RepoInfo::snapshots, -1 for the first
  uint64_t flushed_at = 0;
  std::string message;
};

struct RepoInfo {
  uint8_t spec_version = 0;   // of the file; the table's own field may say 2 for 2.1
  std::vector<RepoRef> branches;
  std::vector<RepoRef> tags;
  std::vector<std::string> deleted_tags;
  std::vector<RepoSnapshotInfo> snapshots;
  uint8_t availability = 0;   // 0 online, 1 read-only, 2 offline
  std::string availability_reason;
};

// Parses a whole repo info file; a ref whose snapshot index lies outside the
// snapshot list, or a parent offset outside it, is an Error(kMetadata).
RepoInfo parse_repo_info(ByteView file, const std::string& what,
                         uint64_t max_payload = kMaxIcechunkPayload);

}  // namespace fastchunk
