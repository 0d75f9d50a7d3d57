// Files under a root directory, read with pread; keys use '/' as the path
// separator. A file's version is its size, modification time and inode.
#pragma once
#include <string>
#include <vector>

#include "io/byte_source.h"

namespace fastchunk {

class LocalSource : public ByteSource {
 public:
  explicit LocalSource(std::string root);
  bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
           ObjectBytes& out) override;
  void get_many(const std::vector<ByteRequest>& requests, std::vector<ByteBuffer>& storage,
                std::vector<ObjectBytes>& out, std::vector<uint8_t>& found,
                int num_threads) override;
  std::string version(const std::string& key) override;

 private:
  std::string root_;
};

}  // namespace fastchunk
