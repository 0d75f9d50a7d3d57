// Read-only mappings of local files, kept from one read to the next, so that
// decoding reads the stored bytes where the page cache holds them: no copy
// into a buffer (pread's), and no page faults on a file already mapped.
//
// A mapping is made for one version of a file (device, inode, size, mtime);
// a read whose stat names another version gets a new one (the old one is
// dropped at once: a deleted file's space is not held). Mappings are made
// only on local filesystems (ext4, xfs, btrfs, tmpfs, ...): network and
// cluster filesystems (NFS, Lustre, CIFS, FUSE, ...) are read with pread.
// A file that shrinks while it is read faults into zero pages (SigbusGuard)
// and its mapping reports !intact(): the reader reads it again with pread.
//
// Budget: FASTCHUNK_MAP_BYTES bytes of files mapped at once (0: never map),
// by default a quarter of the machine's memory, at most 64 GiB; at most
// kMaxMappings files. Least recently used mappings are dropped first.
#pragma once
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "cache/byte_lru.h"
#include "io/byte_source.h"

namespace fastchunk {

class MappedFile : public HeldBytes {
 public:
  MappedFile(const uint8_t* data, size_t size, int guard_slot, std::string version);
  ~MappedFile() override;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& version() const { return version_; }
  // False once the file shrank under the mapping (its pages read as zeros).
  bool intact() const override;

 private:
  const uint8_t* data_;
  size_t size_;
  int guard_slot_;
  std::string version_;
};

struct MappedFilesStats {
  uint64_t hits = 0, maps = 0, evictions = 0, refused = 0;
};

class MappedFiles {
 public:
  static constexpr size_t kMaxMappings = 4096;
  // Smaller reads copy: a mapping would cost as much as the copy it saves.
  static constexpr uint64_t kMinMappedRead = uint64_t(128) << 10;

  static MappedFiles& instance();

  // The mapping of `path`, whose stat (taken by the caller just before) is
  // `st`; null when it should be read with pread instead (not a regular
  // file, a filesystem where mapping is not safe, mapping turned off, the
  // file changed since `st`, or no room).
  std::shared_ptr<const MappedFile> get(const std::string& path, const struct stat& st);

  // Whether the first and last bytes of [offset, offset + length) of `path`
  // (length 0: to the end) are in the page cache, as the mapping kept of
  // the file (any version) tells, with mincore and no open: 1 yes, 0 no,
  // -1 when no mapping of it is kept (or the range is outside it).
  int resident(const std::string& path, uint64_t offset, uint64_t length) const;

  void set_budget(size_t bytes);
  size_t budget() const { return lru_.capacity(); }
  size_t mapped_bytes() const { return lru_.used(); }
  size_t mappings() const { return lru_.entries(); }
  MappedFilesStats stats() const;
  void clear() { lru_.clear(); }

  // The version string of a file's stat: size, mtime (ns), inode.
  static std::string version_of(const struct stat& st);

 private:
  MappedFiles();
  bool mappable_filesystem(int fd, dev_t dev);

  ByteLru<MappedFile> lru_;
  mutable ForkSafeMutex mutex_{LockRank::kMappedFiles};  // stats_ and the filesystem verdicts
  MappedFilesStats stats_;
  std::unordered_map<uint64_t, bool> filesystems_;  // st_dev -> may be mapped
};

}  // namespace fastchunk
