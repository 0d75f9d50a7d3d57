// The chunk references of one array in one snapshot, gathered from its
// manifests: for each stored object of the zarr array (a chunk, or a shard
// when sharded) where its bytes are. Three kinds, as the spec defines them:
//   inline   the bytes themselves, kept here;
//   native   a byte range of an object of the repository (chunks/<id>);
//   virtual  a byte range of an object or file elsewhere (a URL), with an
//            optional condition: the object must still have this ETag, or
//            must not have been modified after this time.
// Coordinates without a reference read as the fill value.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/buffer.h"

namespace fastchunk {

struct ChunkTarget {
  std::string location;        // native: "chunks/<id>" under the repository; virtual: the URL
  bool is_virtual = false;
  std::string etag;            // virtual: required ETag ("" = none)
  uint32_t last_modified = 0;  // virtual: not modified after (seconds since the epoch; 0 = none)
  bool allowed = true;         // virtual: whether the reader was authorized to read its location
};

struct ChunkRef {
  enum class Kind : uint8_t { kInline, kNative, kVirtual };
  Kind kind = Kind::kNative;
  uint32_t target = 0;  // index into targets() (native, virtual)
  uint64_t offset = 0;  // in the target object, or in the inline bytes
  uint64_t length = 0;
};

class ChunkRefTable {
 public:
  // `grid`: the number of stored objects along each axis (chunks, or shards).
  explicit ChunkRefTable(std::vector<uint64_t> grid);

  // ---- building (Manifest::collect), then seal()
  // False when `coords` lies outside the grid (such a reference is ignored).
  bool in_grid(const uint32_t* coords) const;
  void add(const uint32_t* coords, const ChunkRef& ref);
  uint32_t add_target(const std::string& location, bool is_virtual, const std::string& etag,
                      uint32_t last_modified);
  uint64_t add_inline(const uint8_t* data, size_t n);
  // Sorts by coordinates; a coordinate referenced twice is an Error(kMetadata).
  void seal(const std::string& what);

  // ---- reading
  size_t ndim() const { return grid_.size(); }
  const std::vector<uint64_t>& grid() const { return grid_; }
  size_t size() const { return refs_.size(); }
  const ChunkRef* find(const int64_t* coords) const;
  const uint32_t* coords_of(size_t i) const { return coords_.data() + i * ndim(); }
  const ChunkRef& ref(size_t i) const { return refs_[i]; }
  const std::vector<ChunkTarget>& targets() const { return targets_; }
  std::vector<ChunkTarget>& targets() { return targets_; }
  ByteView inline_bytes(const ChunkRef& r) const {
    return ByteView{inline_.data() + r.offset, size_t(r.length)};
  }
  // All inline bytes (routes name ranges of them).
  ByteView inline_data() const { return ByteView{inline_.data(), inline_.size()}; }
  size_t nbytes() const;

 private:
  std::vector<uint64_t> grid_;
  std::vector<uint32_t> coords_;  // ndim per reference
  std::vector<ChunkRef> refs_;
  std::vector<ChunkTarget> targets_;
  std::map<std::tuple<std::string, bool, std::string, uint32_t>, uint32_t> target_slot_;
  std::vector<uint8_t> inline_;
};

}  // namespace fastchunk
