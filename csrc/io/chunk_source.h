// Where stored objects come from: local files, or bytes already fetched by the
// Python layer from an object store.
#pragma once
#include <cstdint>
#include <string>

#include "common/buffer.h"

namespace fastchunk {

class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // Whole object. Returns false when it does not exist. `view` may point into
  // `storage` or into memory the source owns.
  virtual bool get(const std::string& key, ByteBuffer& storage, ByteView& view) = 0;
  // Bytes [offset, offset + length); false when the object does not exist.
  // Throws a decode Error when the range lies outside the object.
  virtual bool get_range(const std::string& key, uint64_t offset, uint64_t length,
                         ByteBuffer& storage, ByteView& view) = 0;
  // The last `length` bytes and the object's total size.
  virtual bool get_suffix(const std::string& key, uint64_t length, ByteBuffer& storage,
                          ByteView& view, uint64_t& object_size) = 0;
  // What tells this content of the object from any other (size and mtime,
  // ETag); empty when unknown or missing. Shared caches key on it.
  virtual std::string version(const std::string& key) { return std::string(); }
};

}  // namespace fastchunk
