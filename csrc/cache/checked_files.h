// Cache files whose checksum this process has verified, by identity: a file
// is checked again only when it changes (any write moves its mtime) or is
// replaced (another inode). Fork-safe.
#pragma once
#include <cstdint>

namespace fastchunk {

struct FileIdentity {
  uint64_t dev, ino, size;
  int64_t mtime_ns;
  bool operator==(const FileIdentity& o) const {
    return dev == o.dev && ino == o.ino && size == o.size && mtime_ns == o.mtime_ns;
  }
};

bool already_checked(const FileIdentity& f);
void note_checked(const FileIdentity& f);

}  // namespace fastchunk
