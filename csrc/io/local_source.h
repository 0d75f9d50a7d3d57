// Files under a root directory; keys use '/' as the path separator. A file's
// version is its size, modification time and inode. Large reads on local
// filesystems come straight from a mapping of the file (io/mapped_files.h:
// no copy); the rest, and every reread(), with pread.
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
  std::string version(const std::string& key) override;
  // One stat: size, modification time (fine-grained once read, on Linux 6.13+
  // filesystems with multigrain timestamps) and inode as when `got` was read.
  bool unchanged(const std::string& key, const ObjectBytes& got) override;
  bool reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
              ObjectBytes& out) override;
  // posix_fadvise(WILLNEED): the kernel reads the range into the page cache
  // in the background. A missing file is no error.
  void prefetch(const std::string& key, const ByteRange& range) override;

  // Whether reads may come from mappings (default: yes, where MappedFiles allows).
  void set_mapping(bool on) { mapping_ = on; }

 private:
  bool read(const std::string& key, const ByteRange& range, ByteBuffer& storage,
            ObjectBytes& out);
  std::string root_;
  bool mapping_ = true;
};

}  // namespace fastchunk
