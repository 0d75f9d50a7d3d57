#include "icechunk/repo_info.h"

#include <algorithm>

#include "common/error.h"
#include "icechunk/flat_table.h"

namespace fastchunk {
namespace {

using flat::Table;
using flat::Verifier;

// Field numbers, in the order repo.fbs declares them.
namespace repo_field {
enum { kSpecVersion, kTags, kBranches, kDeletedTags, kSnapshots, kStatus, kMetadata,
       kLatestUpdates, kRepoBeforeUpdates, kConfig, kEnabledFlags, kDisabledFlags, kExtra };
}
namespace ref_field {
enum { kName, kSnapshotIndex };
}
namespace info_field {
enum { kId, kParentOffset, kFlushedAt, kMessage, kMetadata, kPrunedAncestorTxLogs };
}
namespace status_field {
enum { kAvailability, kSetAt, kReason };
}

bool verify_ref(const Table* t, Verifier& v) {
  return t->VerifyTableStart(v) && flat::string_ok(t, v, ref_field::kName, true) &&
         flat::scalar_ok<uint32_t>(t, v, ref_field::kSnapshotIndex) && v.EndTable();
}

bool verify_metadata_item(const Table* t, Verifier& v) {
  return t->VerifyTableStart(v) && flat::string_ok(t, v, 0, true) &&
         flat::vector_ok(t, v, 1, 1, true) && v.EndTable();
}

bool verify_snapshot_info(const Table* t, Verifier& v) {
  using namespace info_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kId, 12, 1, true) &&
         flat::scalar_ok<int32_t>(t, v, kParentOffset) &&
         flat::scalar_ok<uint64_t>(t, v, kFlushedAt) && flat::string_ok(t, v, kMessage, true) &&
         flat::table_vector_ok(t, v, kMetadata, false, verify_metadata_item) &&
         flat::vector_ok(t, v, kPrunedAncestorTxLogs, 12, false) && v.EndTable();
}

bool verify_status(const Table* t, Verifier& v) {
  using namespace status_field;
  return t->VerifyTableStart(v) && flat::scalar_ok<uint8_t>(t, v, kAvailability) &&
         flat::scalar_ok<uint64_t>(t, v, kSetAt) && flat::string_ok(t, v, kReason, false) &&
         v.EndTable();
}

// The fields a reader needs; the ops log, configuration and feature flags are
// not read, nor verified beyond their offsets.
bool verify_repo(const Table* t, Verifier& v) {
  using namespace repo_field;
  return t->VerifyTableStart(v) && flat::scalar_ok<uint8_t>(t, v, kSpecVersion) &&
         flat::table_vector_ok(t, v, kTags, true, verify_ref) &&
         flat::table_vector_ok(t, v, kBranches, true, verify_ref) &&
         flat::string_vector_ok(t, v, kDeletedTags, true) &&
         flat::table_vector_ok(t, v, kSnapshots, true, verify_snapshot_info) &&
         flat::table_ok(t, v, kStatus, true, verify_status) && v.EndTable();
}

std::vector<RepoRef> read_refs(const Table* repo, int field, size_t nsnapshots,
                               const std::vector<RepoSnapshotInfo>& snapshots,
                               const std::string& what, const char* kind) {
  std::vector<RepoRef> out;
  const auto* refs = flat::tables_at(repo, field);
  for (flatbuffers::uoffset_t i = 0; i < refs->size(); ++i) {
    RepoRef r;
    r.name = flat::str(flat::string_at(refs->Get(i), ref_field::kName));
    const uint32_t index = flat::scalar<uint32_t>(refs->Get(i), ref_field::kSnapshotIndex, 0);
    if (index >= nsnapshots)
      throw Error(ErrorKind::kMetadata, what + ": " + kind + " '" + r.name +
                                            "' points past the snapshot list");
    r.snapshot = snapshots[index].id;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

RepoInfo parse_repo_info(ByteView bytes, const std::string& what, uint64_t max_payload) {
  IcechunkFile file = read_icechunk_file(bytes, IcechunkFileType::kRepoInfo, what, max_payload);
  const std::vector<uint8_t>& buf = file.payload;
  Verifier::Options opts;
  opts.max_tables = flatbuffers::uoffset_t(std::min<size_t>(buf.size() / 4 + 16, 0x7fffffff));
  Verifier v(buf.data(), buf.size(), opts);
  if (!flat::verify_root(v, buf.data(), buf.size()) || !verify_repo(flat::root(buf.data()), v))
    throw Error(ErrorKind::kMetadata, what + ": not a valid repo info file (flatbuffer verification failed)");
  const Table* t = flat::root(buf.data());
  RepoInfo info;
  info.spec_version = file.spec_version;
  const auto* snapshots = flat::tables_at(t, repo_field::kSnapshots);
  const size_t n = snapshots->size();
  for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
    const Table* s = snapshots->Get(i);
    RepoSnapshotInfo si;
    std::copy_n(flat::struct_at(s, info_field::kId), 12, si.id.begin());
    si.parent = flat::scalar<int32_t>(s, info_field::kParentOffset, 0);  // the schema's default
    if (si.parent < -1 || (si.parent >= 0 && size_t(si.parent) >= n))
      throw Error(ErrorKind::kMetadata, what + ": snapshot " + encode_object_id(si.id) +
                                            " has a parent outside the snapshot list");
    si.flushed_at = flat::scalar<uint64_t>(s, info_field::kFlushedAt, 0);
    si.message = flat::str(flat::string_at(s, info_field::kMessage));
    info.snapshots.push_back(std::move(si));
  }
  info.branches = read_refs(t, repo_field::kBranches, n, info.snapshots, what, "branch");
  info.tags = read_refs(t, repo_field::kTags, n, info.snapshots, what, "tag");
  const auto* deleted = flat::strings_at(t, repo_field::kDeletedTags);
  for (flatbuffers::uoffset_t i = 0; i < deleted->size(); ++i)
    info.deleted_tags.push_back(flat::str(deleted->Get(i)));
  const Table* status = flat::table_at(t, repo_field::kStatus);
  info.availability = flat::scalar<uint8_t>(status, status_field::kAvailability, 0);
  info.availability_reason = flat::str(flat::string_at(status, status_field::kReason));
  return info;
}

}  // namespace fastchunk
