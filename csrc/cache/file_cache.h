// A cache of byte strings kept as files in one directory, shared by every
// process that opens the same directory, with a byte budget over all of them.
// Used for decoded chunks in /dev/shm (the node-wide level of the cascade)
// and for remote objects on a local disk.
//
// Crash safety comes from the layout, not from recovery code:
//  - an entry is written to a temporary file and renamed into place, so a
//    reader finds either nothing or a complete entry;
//  - a reader maps or reads a file it has opened, so eviction (unlink) never
//    pulls bytes from under it;
//  - the byte accounting lives in a small shared control file and changes
//    only under flock, which the kernel releases when a holder dies. A holder
//    marks the control block dirty while it works; whoever finds it dirty
//    (its predecessor died mid-update) recounts the directory;
//  - counters are atomics in that shared file: a SIGKILL loses nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cache/fill_claim.h"

namespace fastchunk {

struct FileCacheStats {
  uint64_t budget = 0;     // bytes, over every process
  uint64_t used = 0;       // bytes of entries and of entries being written
  uint64_t entries = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;     // lookups that found nothing and did not wait for another process
  uint64_t inserts = 0;
  uint64_t evictions = 0;
  uint64_t waits = 0;      // lookups served after waiting for another process to fill the key
  uint64_t dropped = 0;    // entries found damaged (size, checksum) and removed
};

// One entry, read-only, empty (false) on a miss. Its file stays open, so
// that eviction never takes the bytes from under it. Mapped caches read the
// bytes on demand (a mapping, or reads straight into the caller's buffer);
// the others have read and checked them already. A file cut short under a
// reader (only its owner can do that) reads as a failed read or, through
// the mapping, as zero pages and !intact(): never a SIGBUS.
class CachedFile {
 public:
  CachedFile() = default;
  CachedFile(CachedFile&& other) noexcept;
  CachedFile& operator=(CachedFile&& other) noexcept;
  CachedFile(const CachedFile&) = delete;
  CachedFile& operator=(const CachedFile&) = delete;
  ~CachedFile();

  explicit operator bool() const { return found_; }
  size_t size() const { return size_; }
  // The caller's note stored with the entry (remote caches: the object's version).
  const std::string& tag() const { return tag_; }
  // The bytes, in memory already or mapped on first use (pages are read as
  // they are touched; check intact() after reading them); null when they
  // cannot be mapped.
  const uint8_t* data();
  // False once a page of the mapping faulted (the file was cut short): what
  // was read through data() may hold zeros, not the entry's bytes.
  bool intact() const;
  // Copies bytes [offset, offset + n) of the entry to `dst`; false when the
  // file no longer holds them (cut short).
  bool read(uint64_t offset, uint8_t* dst, size_t n);
  // Reads the whole entry into memory of its own (no mapping left to fault);
  // false when the file no longer holds it.
  bool load();

 private:
  friend class FileCache;
  void reset();
  bool found_ = false;
  int fd_ = -1;
  uint64_t offset_ = 0;  // of the bytes in the file
  void* map_ = nullptr;
  size_t map_size_ = 0;
  int guard_slot_ = -1;  // the mapping's SigbusGuard slot
  uint8_t* owned_ = nullptr;  // from the buffer pool
  size_t owned_capacity_ = 0;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string tag_;
};

class FileCache {
 public:
  struct Options {
    bool map = true;         // hits are read on demand (tmpfs); false: read and checked at once (disks)
    bool checksum = false;   // CRC-32 of each entry, checked on every hit
  };
  static constexpr size_t kAnySize = SIZE_MAX;

  // Opens the cache in `dir`, creating it when missing. A budget > 0 becomes
  // the budget of every process using it (the last one set wins). The
  // directory must be this user's, on a path no other user can change
  // (cache_files::open_trusted_dir): else an I/O Error says why.
  static std::shared_ptr<FileCache> open(const std::string& dir, uint64_t budget, Options options);
  // nullptr when `dir` holds no cache; never creates anything.
  static std::shared_ptr<FileCache> open_existing(const std::string& dir, Options options);

  // The entry stored under `key`, when it holds `expected_size` bytes (or any
  // size). A damaged entry is removed and reads as a miss.
  CachedFile find(const std::string& key, size_t expected_size = kAnySize);
  // find(); on a miss, either claims the key for this caller (claim.held())
  // or, when another process holds the claim, waits for its entry (bounded:
  // a claim whose holder died or takes too long is passed over). With `busy`,
  // returns at once instead of waiting, *busy set: the caller comes back later.
  CachedFile find_or_claim(const std::string& key, size_t expected_size, FillClaim& claim,
                           bool* busy = nullptr);
  // Stores a copy of `data`; false when it does not fit the budget or the
  // file system refuses it. An entry already stored under `key` is kept.
  bool insert(const std::string& key, const uint8_t* data, size_t size,
              const std::string& tag = std::string());
  // Replaces whatever is stored under `key`.
  bool replace(const std::string& key, const uint8_t* data, size_t size,
               const std::string& tag = std::string());
  void remove(const std::string& key);
  // Removes the entry stored under `key`, which a reader found cut short;
  // counted as dropped.
  void drop(const std::string& key);
  void set_budget(uint64_t bytes);
  // Removes every entry and zeroes the counters.
  void clear();
  FileCacheStats stats() const;
  // Recounts the directory now (what a process does when it finds the
  // accounting interrupted); returns the bytes in use.
  uint64_t recount();
  const std::string& dir() const { return dir_; }

  struct Control;
  ~FileCache();

 private:
  // Every file is reached through the directories' descriptors, never by path.
  FileCache(std::string dir, int dir_fd, int entries_fd, int claims_fd, Control* control,
            Options options);
  bool store(const std::string& key, const uint8_t* data, size_t size, const std::string& tag,
             bool overwrite);
  bool wait_for_claim(const std::string& name, const std::string& key, size_t expected_size,
                      CachedFile& out);
  CachedFile read_entry(const std::string& name, const std::string& key, size_t expected_size);
  void drop_damaged(const std::string& name, uint64_t inode);

  class Section;
  std::string dir_;  // for messages
  int dir_fd_, entries_fd_, claims_fd_;
  Control* control_;
  Options options_;
};

}  // namespace fastchunk
