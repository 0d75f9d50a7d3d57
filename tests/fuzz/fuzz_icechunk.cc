// Hostile Icechunk metadata files through the core's parsers: snapshots,
// manifests (then every array's references collected into a table, sealed,
// looked up, and each reference's ranges resolved) and repo info files.
// Input: u8 kind (0 snapshot, 1 manifest, 2 repo info), u8 rank (modulo 5)
// of the arrays a manifest's references are collected for, then the file.
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "icechunk/chunk_refs.h"
#include "icechunk/manifest.h"
#include "icechunk/ref_source.h"
#include "icechunk/repo_info.h"
#include "icechunk/snapshot.h"

namespace {

using namespace fastchunk;

void check_snapshot(ByteView file) {
  const Snapshot s = parse_snapshot(file, "fuzz", fuzz::kMaxOut);
  for (const SnapshotNode& n : s.nodes) {
    if (!valid_node_path(n.path)) __builtin_trap();
    for (const ManifestPointer& m : n.manifests)
      if (m.extents.size() != n.shape.size()) __builtin_trap();
  }
}

void check_manifest(ByteView file, size_t rank) {
  const auto manifest = Manifest::parse(file, "fuzz", fuzz::kMaxOut);
  for (const ObjectId8& node : manifest->node_ids()) {
    ChunkRefTable table(std::vector<uint64_t>(rank, uint64_t(1) << 20));
    const std::vector<ManifestExtent> extents(rank, ManifestExtent{0, UINT32_MAX});
    try {
      manifest->collect(node, extents, table, "fuzz");
      table.seal("fuzz");
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInternal) __builtin_trap();
      continue;
    }
    std::vector<int64_t> coords(rank);
    for (size_t i = 0; i < table.size(); ++i) {
      for (size_t d = 0; d < rank; ++d) coords[d] = table.coords_of(i)[d];
      const ChunkRef* found = table.find(coords.data());
      if (found != &table.ref(i)) __builtin_trap();
      const ChunkRef& r = *found;
      if (r.kind == ChunkRef::Kind::kInline) {
        const ByteView b = table.inline_bytes(r);
        if (r.length && !b.data) __builtin_trap();
        continue;
      }
      if (r.target >= table.targets().size()) __builtin_trap();
      fuzz::expect_rejection_or_success([&] {
        const ByteRange whole = range_in_target(r, ByteRange::whole());
        if (whole.offset != r.offset || whole.length != r.length) __builtin_trap();
        range_in_target(r, ByteRange::suffix(16));
        range_in_target(r, ByteRange::slice(r.length / 2, r.length / 4));
      });
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  const uint8_t kind = in.u8() % 3;
  const size_t rank = in.u8() % 5;
  const ByteView file = in.rest();
  fuzz::expect_rejection_or_success([&] {
    if (kind == 0) check_snapshot(file);
    if (kind == 1) check_manifest(file, rank);
    if (kind == 2) parse_repo_info(file, "fuzz", fuzz::kMaxOut);
  });
  return 0;
}
