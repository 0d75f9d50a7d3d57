#pragma once
#include <string>

#include "io/chunk_source.h"

namespace fastchunk {

// Files under a root directory; keys use '/' as the path separator.
class LocalSource : public ChunkSource {
 public:
  explicit LocalSource(std::string root);
  bool get(const std::string& key, ByteBuffer& storage, ByteView& view) override;
  bool get_range(const std::string& key, uint64_t offset, uint64_t length,
                 ByteBuffer& storage, ByteView& view) override;
  bool get_suffix(const std::string& key, uint64_t length, ByteBuffer& storage,
                  ByteView& view, uint64_t& object_size) override;
  std::string version(const std::string& key) override;  // size, mtime (ns), inode

 private:
  std::string root_;
};

}  // namespace fastchunk
