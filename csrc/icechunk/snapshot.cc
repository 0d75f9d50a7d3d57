#include "icechunk/snapshot.h"

#include <algorithm>

#include "common/error.h"
#include "icechunk/flat_table.h"

namespace fastchunk {
namespace {

using flat::Table;
using flat::Verifier;

// Field numbers, in the order snapshot.fbs declares them.
namespace snapshot_field {
enum { kId, kParentId, kNodes, kFlushedAt, kMessage, kMetadata, kManifestFiles,
       kManifestFilesV2, kExtra };
}
namespace node_field {
enum { kId, kPath, kUserData, kNodeDataType, kNodeData, kExtra };
}
namespace array_field {
enum { kShape, kDimensionNames, kManifests, kShapeV2 };
}
namespace manifest_ref_field {
enum { kObjectId, kExtents };
}
namespace shape_v2_field {
enum { kArrayLength, kNumChunks };
}
namespace metadata_item_field {
enum { kName, kValue };
}
namespace manifest_info_v2_field {
enum { kId, kSizeBytes, kNumChunkRefs, kExtra };
}
constexpr uint8_t kNodeArray = 1;
constexpr uint8_t kNodeGroup = 2;
constexpr size_t kDimensionShapeSize = 16;   // struct { u64 array_length; u64 chunk_length; }
constexpr size_t kManifestFileInfoSize = 32; // struct { ObjectId12; u64; u32; } padded
constexpr size_t kChunkIndexRangeSize = 8;   // struct { u32 from; u32 to; }

bool verify_manifest_ref(const Table* t, Verifier& v) {
  using namespace manifest_ref_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kObjectId, 12, 1, true) &&
         flat::vector_ok(t, v, kExtents, kChunkIndexRangeSize, true) && v.EndTable();
}

bool verify_shape_v2(const Table* t, Verifier& v) {
  using namespace shape_v2_field;
  return t->VerifyTableStart(v) && flat::scalar_ok<uint64_t>(t, v, kArrayLength) &&
         flat::scalar_ok<uint32_t>(t, v, kNumChunks) && v.EndTable();
}

bool verify_dimension_name(const Table* t, Verifier& v) {
  return t->VerifyTableStart(v) && flat::string_ok(t, v, 0, false) && v.EndTable();
}

bool verify_array_data(const Table* t, Verifier& v) {
  using namespace array_field;
  return t->VerifyTableStart(v) && flat::vector_ok(t, v, kShape, kDimensionShapeSize, true) &&
         flat::table_vector_ok(t, v, kDimensionNames, false, verify_dimension_name) &&
         flat::table_vector_ok(t, v, kManifests, true, verify_manifest_ref) &&
         flat::table_vector_ok(t, v, kShapeV2, false, verify_shape_v2) && v.EndTable();
}

bool verify_group_data(const Table* t, Verifier& v) {
  return t->VerifyTableStart(v) && v.EndTable();
}

bool verify_node(const Table* t, Verifier& v) {
  using namespace node_field;
  if (!t->VerifyTableStart(v) || !flat::struct_ok(t, v, kId, 8, 1, true) ||
      !flat::string_ok(t, v, kPath, true) || !flat::vector_ok(t, v, kUserData, 1, true) ||
      !flat::scalar_ok<uint8_t>(t, v, kNodeDataType) || !flat::offset_ok(t, v, kNodeData, true) ||
      !flat::vector_ok(t, v, kExtra, 1, false))
    return false;
  const uint8_t type = flat::scalar<uint8_t>(t, kNodeDataType, 0);
  const Table* data = flat::table_at(t, kNodeData);
  if (type == kNodeArray) {
    if (!verify_array_data(data, v)) return false;
  } else if (type == kNodeGroup) {
    if (!verify_group_data(data, v)) return false;
  } else {
    return v.Check(false);
  }
  return v.EndTable();
}

bool verify_metadata_item(const Table* t, Verifier& v) {
  using namespace metadata_item_field;
  return t->VerifyTableStart(v) && flat::string_ok(t, v, kName, true) &&
         flat::vector_ok(t, v, kValue, 1, true) && v.EndTable();
}

bool verify_manifest_info_v2(const Table* t, Verifier& v) {
  using namespace manifest_info_v2_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kId, 12, 1, false) &&
         flat::scalar_ok<uint64_t>(t, v, kSizeBytes) &&
         flat::scalar_ok<uint32_t>(t, v, kNumChunkRefs) && flat::vector_ok(t, v, kExtra, 1, false) &&
         v.EndTable();
}

bool verify_snapshot(const Table* t, Verifier& v) {
  using namespace snapshot_field;
  return t->VerifyTableStart(v) && flat::struct_ok(t, v, kId, 12, 1, true) &&
         flat::struct_ok(t, v, kParentId, 12, 1, false) &&
         flat::table_vector_ok(t, v, kNodes, true, verify_node) &&
         flat::scalar_ok<uint64_t>(t, v, kFlushedAt) && flat::string_ok(t, v, kMessage, true) &&
         flat::table_vector_ok(t, v, kMetadata, true, verify_metadata_item) &&
         flat::vector_ok(t, v, kManifestFiles, kManifestFileInfoSize, true) &&
         flat::table_vector_ok(t, v, kManifestFilesV2, false, verify_manifest_info_v2) &&
         flat::vector_ok(t, v, kExtra, 1, false) && v.EndTable();
}

template <size_t N>
std::array<uint8_t, N> id_at(const uint8_t* p) {
  std::array<uint8_t, N> id{};
  std::copy(p, p + N, id.begin());
  return id;
}

SnapshotNode read_node(const Table* t, uint8_t spec_version, const std::string& what) {
  using namespace node_field;
  SnapshotNode node;
  node.id = id_at<8>(flat::struct_at(t, kId));
  node.path = flat::str(flat::string_at(t, kPath));
  const std::string where = what + ": node '" + node.path + "'";
  if (!valid_node_path(node.path)) throw Error(ErrorKind::kMetadata, where + ": not a node path");
  const flat::RawVector user = flat::vector_at(t, kUserData);
  node.user_data.assign(reinterpret_cast<const char*>(user.data), user.size);
  node.is_array = flat::scalar<uint8_t>(t, kNodeDataType, 0) == kNodeArray;
  if (!node.is_array) return node;
  const Table* data = flat::table_at(t, kNodeData);
  const flat::RawVector shape = flat::vector_at(data, array_field::kShape);
  const auto* shape_v2 = flat::tables_at(data, array_field::kShapeV2);
  if (shape_v2 && shape_v2->size() > 0) {
    for (flatbuffers::uoffset_t i = 0; i < shape_v2->size(); ++i)
      node.shape.push_back(flat::scalar<uint64_t>(shape_v2->Get(i), shape_v2_field::kArrayLength, 0));
  } else {
    for (uint32_t i = 0; i < shape.size; ++i)
      node.shape.push_back(flat::load<uint64_t>(shape.data + i * kDimensionShapeSize));
  }
  if (spec_version >= 2 && shape.size != 0)
    throw Error(ErrorKind::kMetadata, where + ": a version 2 snapshot with a version 1 shape");
  const size_t ndim = node.shape.size();
  const auto* manifests = flat::tables_at(data, array_field::kManifests);
  for (flatbuffers::uoffset_t i = 0; i < manifests->size(); ++i) {
    const Table* m = manifests->Get(i);
    ManifestPointer ptr;
    ptr.id = id_at<12>(flat::struct_at(m, manifest_ref_field::kObjectId));
    const flat::RawVector extents = flat::vector_at(m, manifest_ref_field::kExtents);
    if (extents.size != ndim)
      throw Error(ErrorKind::kMetadata, where + ": manifest " + encode_object_id(ptr.id) +
                                            " has " + std::to_string(extents.size) +
                                            " extents for " + std::to_string(ndim) + " axes");
    for (uint32_t d = 0; d < extents.size; ++d) {
      ManifestExtent e;
      e.from = flat::load<uint32_t>(extents.data + d * kChunkIndexRangeSize);
      e.to = flat::load<uint32_t>(extents.data + d * kChunkIndexRangeSize + 4);
      ptr.extents.push_back(e);
    }
    node.manifests.push_back(std::move(ptr));
  }
  return node;
}

}  // namespace

bool valid_node_path(const std::string& path) {
  if (path.empty() || path[0] != '/') return false;
  if (path == "/") return true;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const std::string segment = path.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (segment.find('\0') != std::string::npos) return false;
    start = end + 1;
  }
  return true;
}

Snapshot parse_snapshot(ByteView bytes, const std::string& what, uint64_t max_payload) {
  IcechunkFile file = read_icechunk_file(bytes, IcechunkFileType::kSnapshot, what, max_payload);
  const std::vector<uint8_t>& buf = file.payload;
  Verifier::Options opts;
  opts.max_tables = flatbuffers::uoffset_t(std::min<size_t>(buf.size() / 4 + 16, 0x7fffffff));
  Verifier v(buf.data(), buf.size(), opts);
  if (!flat::verify_root(v, buf.data(), buf.size()) || !verify_snapshot(flat::root(buf.data()), v))
    throw Error(ErrorKind::kMetadata, what + ": not a valid snapshot (flatbuffer verification failed)");
  const Table* t = flat::root(buf.data());
  Snapshot s;
  s.spec_version = file.spec_version;
  s.id = id_at<12>(flat::struct_at(t, snapshot_field::kId));
  if (const uint8_t* parent = flat::struct_at(t, snapshot_field::kParentId)) s.parent = id_at<12>(parent);
  s.flushed_at = flat::scalar<uint64_t>(t, snapshot_field::kFlushedAt, 0);
  s.message = flat::str(flat::string_at(t, snapshot_field::kMessage));
  const auto* nodes = flat::tables_at(t, snapshot_field::kNodes);
  s.nodes.reserve(nodes->size());
  for (flatbuffers::uoffset_t i = 0; i < nodes->size(); ++i)
    s.nodes.push_back(read_node(nodes->Get(i), file.spec_version, what));
  // Writers have sorted by bytes (spec 2) or by path components (1.x): sort
  // here, and refuse a path given twice.
  std::sort(s.nodes.begin(), s.nodes.end(),
            [](const SnapshotNode& a, const SnapshotNode& b) { return a.path < b.path; });
  for (size_t i = 1; i < s.nodes.size(); ++i)
    if (s.nodes[i - 1].path == s.nodes[i].path)
      throw Error(ErrorKind::kMetadata, what + ": node '" + s.nodes[i].path + "' appears twice");
  return s;
}

}  // namespace fastchunk
