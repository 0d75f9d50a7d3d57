// Helpers for the C++ unit tests of csrc/icechunk: Icechunk metadata files
// built by hand with the flatbuffers runtime's builder (tables by slot, as
// the schemas declare them), under the binary header. Header-only; never
// part of the library.
#pragma once
#include <flatbuffers/flatbuffers.h>
#include <zstd.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "icechunk/binary_file.h"
#include "icechunk/flat_table.h"

namespace fastchunk::testing {

// Header + payload, zstd-compressed or stored as it is.
inline std::vector<uint8_t> icechunk_file(IcechunkFileType type, const uint8_t* payload,
                                          size_t n, uint8_t version = 1, bool compress = true) {
  std::vector<uint8_t> out = {0x49, 0x43, 0x45, 0xF0, 0x9F, 0xA7, 0x8A, 0x43, 0x48, 0x55, 0x4E, 0x4B};
  const std::string name = "fastchunk-test          ";
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(version);
  out.push_back(uint8_t(type));
  out.push_back(compress ? 1 : 0);
  if (!compress) {
    out.insert(out.end(), payload, payload + n);
    return out;
  }
  std::vector<uint8_t> z(ZSTD_compressBound(n));
  z.resize(ZSTD_compress(z.data(), z.size(), payload, n, 3));
  out.insert(out.end(), z.begin(), z.end());
  return out;
}

inline ByteView view(const std::vector<uint8_t>& v) { return ByteView{v.data(), v.size()}; }

// One chunk reference of a manifest being built.
struct RefSpec {
  std::vector<uint32_t> index;
  enum { kInline, kNative, kVirtual, kNone } kind = kNative;
  std::vector<uint8_t> inline_bytes;
  std::array<uint8_t, 12> chunk_id{};
  std::string location;
  std::vector<uint8_t> compressed_location;  // virtual: instead of `location`
  std::string etag;
  uint32_t last_modified = 0;
  uint64_t offset = 0, length = 0;
};

// A manifest (manifest.fbs) with one array `node` holding `refs`, and the
// dictionary of compressed locations when given.
inline std::vector<uint8_t> manifest_payload(const std::array<uint8_t, 12>& id,
                                             const std::array<uint8_t, 8>& node,
                                             const std::vector<RefSpec>& refs,
                                             const std::vector<uint8_t>& dictionary = {}) {
  using flat::slot;
  flatbuffers::FlatBufferBuilder b;
  std::vector<flatbuffers::Offset<void>> tables;
  for (const RefSpec& r : refs) {
    const auto index = b.CreateVector(r.index);
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> inl, compressed;
    flatbuffers::Offset<flatbuffers::String> location, etag;
    if (r.kind == RefSpec::kInline) inl = b.CreateVector(r.inline_bytes);
    if (r.kind == RefSpec::kVirtual && r.compressed_location.empty())
      location = b.CreateString(r.location);
    if (!r.compressed_location.empty()) compressed = b.CreateVector(r.compressed_location);
    if (!r.etag.empty()) etag = b.CreateString(r.etag);
    const auto start = b.StartTable();
    b.AddOffset(slot(0), index);
    if (r.kind == RefSpec::kInline) b.AddOffset(slot(1), inl);
    b.AddElement<uint64_t>(slot(2), r.offset, 0);
    b.AddElement<uint64_t>(slot(3), r.length, 0);
    if (r.kind == RefSpec::kNative) b.AddStruct(slot(4), &r.chunk_id);
    if (r.kind == RefSpec::kVirtual && r.compressed_location.empty()) b.AddOffset(slot(5), location);
    if (!r.compressed_location.empty()) b.AddOffset(slot(8), compressed);
    if (!r.etag.empty()) b.AddOffset(slot(6), etag);
    b.AddElement<uint32_t>(slot(7), r.last_modified, 0);
    tables.push_back(flatbuffers::Offset<void>(b.EndTable(start)));
  }
  const auto refs_vec = b.CreateVector(tables);
  auto array_start = b.StartTable();
  b.AddStruct(slot(0), &node);
  b.AddOffset(slot(1), refs_vec);
  const auto array = flatbuffers::Offset<void>(b.EndTable(array_start));
  const auto arrays = b.CreateVector(std::vector<flatbuffers::Offset<void>>{array});
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> dict;
  if (!dictionary.empty()) dict = b.CreateVector(dictionary);
  const auto root = b.StartTable();
  b.AddStruct(slot(0), &id);
  b.AddOffset(slot(1), arrays);
  if (!dictionary.empty()) b.AddOffset(slot(2), dict);
  b.Finish(flatbuffers::Offset<void>(b.EndTable(root)));
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

// A snapshot (snapshot.fbs, spec 1) with the root group and one array at
// `path` of `shape`, its references in manifest `manifest` over `extents`.
inline std::vector<uint8_t> snapshot_payload(const std::array<uint8_t, 12>& id,
                                             const std::string& path,
                                             const std::array<uint8_t, 8>& node,
                                             const std::vector<uint64_t>& shape,
                                             const std::array<uint8_t, 12>& manifest,
                                             const std::vector<std::array<uint32_t, 2>>& extents) {
  using flat::slot;
  flatbuffers::FlatBufferBuilder b;
  // Group "/".
  const auto group = b.StartTable();
  const auto group_data = flatbuffers::Offset<void>(b.EndTable(group));
  const auto root_path = b.CreateString("/");
  const auto root_user = b.CreateVector(std::vector<uint8_t>{'{', '}'});
  const std::array<uint8_t, 8> root_id{1, 2, 3, 4, 5, 6, 7, 8};
  auto start = b.StartTable();
  b.AddStruct(slot(0), &root_id);
  b.AddOffset(slot(1), root_path);
  b.AddOffset(slot(2), root_user);
  b.AddElement<uint8_t>(slot(3), 2, 0);
  b.AddOffset(slot(4), group_data);
  const auto root_node = flatbuffers::Offset<void>(b.EndTable(start));
  // The array.
  std::vector<uint64_t> dims;
  for (uint64_t n : shape) dims.insert(dims.end(), {n, 1});
  b.StartVector(dims.size() / 2, 16);
  for (size_t i = dims.size(); i > 0; --i) b.PushElement(dims[i - 1]);
  const auto shape_vec = flatbuffers::Offset<flatbuffers::Vector<uint8_t>>(b.EndVector(dims.size() / 2));
  std::vector<uint32_t> ext;
  for (const auto& e : extents) ext.insert(ext.end(), {e[0], e[1]});
  b.StartVector(extents.size(), 8);
  for (size_t i = ext.size(); i > 0; --i) b.PushElement(ext[i - 1]);
  const auto ext_vec = flatbuffers::Offset<flatbuffers::Vector<uint8_t>>(b.EndVector(extents.size()));
  start = b.StartTable();
  b.AddStruct(slot(0), &manifest);
  b.AddOffset(slot(1), ext_vec);
  const auto mref = flatbuffers::Offset<void>(b.EndTable(start));
  const auto manifests = b.CreateVector(std::vector<flatbuffers::Offset<void>>{mref});
  start = b.StartTable();
  b.AddOffset(slot(0), shape_vec);
  b.AddOffset(slot(2), manifests);
  const auto array_data = flatbuffers::Offset<void>(b.EndTable(start));
  const auto array_path = b.CreateString(path);
  const auto user = b.CreateVector(std::vector<uint8_t>{'{', '}'});
  start = b.StartTable();
  b.AddStruct(slot(0), &node);
  b.AddOffset(slot(1), array_path);
  b.AddOffset(slot(2), user);
  b.AddElement<uint8_t>(slot(3), 1, 0);
  b.AddOffset(slot(4), array_data);
  const auto array_node = flatbuffers::Offset<void>(b.EndTable(start));
  const auto nodes = b.CreateVector(std::vector<flatbuffers::Offset<void>>{root_node, array_node});
  const auto message = b.CreateString("test commit");
  const auto metadata = b.CreateVector(std::vector<flatbuffers::Offset<void>>{});
  b.StartVector(0, 32);
  const auto files = flatbuffers::Offset<flatbuffers::Vector<uint8_t>>(b.EndVector(0));
  start = b.StartTable();
  b.AddStruct(slot(0), &id);
  b.AddOffset(slot(2), nodes);
  b.AddElement<uint64_t>(slot(3), 1700000000000000ull, 0);
  b.AddOffset(slot(4), message);
  b.AddOffset(slot(5), metadata);
  b.AddOffset(slot(6), files);
  b.Finish(flatbuffers::Offset<void>(b.EndTable(start)));
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

}  // namespace fastchunk::testing
