#pragma once
#include <string>
#include <unordered_map>

#include "io/chunk_source.h"

namespace fastchunk {

// Objects fetched beforehand (from S3 or HTTP) and kept alive by the caller.
// Asking for a key the caller neither provided nor marked missing is an error
// of kind kNotFetched: the caller fetches again.
class MemorySource : public ChunkSource {
 public:
  void add(const std::string& key, const uint8_t* data, size_t size) {
    objects_[key] = ByteView{data, size};
  }
  // An object the caller looked for and found absent (reads as fill value).
  void add_missing(const std::string& key) { objects_[key] = ByteView{nullptr, 0}; }
  // The object's version as the store reported it (ETag and size).
  void set_version(const std::string& key, const std::string& version) {
    versions_[key] = version;
  }
  std::string version(const std::string& key) override {
    auto it = versions_.find(key);
    return it == versions_.end() ? std::string() : it->second;
  }
  bool get(const std::string& key, ByteBuffer& storage, ByteView& view) override;
  bool get_range(const std::string& key, uint64_t offset, uint64_t length,
                 ByteBuffer& storage, ByteView& view) override;
  bool get_suffix(const std::string& key, uint64_t length, ByteBuffer& storage,
                  ByteView& view, uint64_t& object_size) override;

 private:
  std::unordered_map<std::string, ByteView>::const_iterator find(const std::string& key) const;
  std::unordered_map<std::string, ByteView> objects_;
  std::unordered_map<std::string, std::string> versions_;
};

}  // namespace fastchunk
