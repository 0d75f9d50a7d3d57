// The node-wide level of the decoded-chunk cache: one FileCache in shared
// memory (/dev/shm/fastchunk-<name>/, chosen by the Python layer) used by
// every process that names it, so that a chunk is decoded once per node.
// Keys name the store, the array's decoding, the chunk and the stored
// object's version: a rewritten object is a different key.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "cache/file_cache.h"
#include "engine/array_spec.h"
#include "io/byte_source.h"
#include "plan/region_copy.h"

namespace fastchunk {

// Attaches this process to the cache in `dir` with a budget for the whole
// node; budget 0 detaches this process (the cache stays for the others).
void set_shared_cache(const std::string& dir, uint64_t budget);
// The cache this process uses, or nullptr.
std::shared_ptr<FileCache> shared_cache();

// The key of one decoded chunk; empty when the chunk cannot be named
// precisely (no store identity or no object version): such chunks are not shared.
std::string shared_chunk_key(const ArraySpec& spec, const std::string& key, int64_t inner,
                             const std::string& version);

// One chunk as the reader sees it: a hit to copy from, a miss this process
// has claimed and fills once decoded (other processes wait for it meanwhile),
// or, when may_defer, busy: another process is decoding it right now, and the
// reader does other chunks first.
class SharedChunk {
 public:
  static SharedChunk find(const ArraySpec& spec, ByteSource& source, const std::string& key,
                          int64_t inner, size_t nbytes, bool may_defer = false);
  bool hit() const { return bool(hit_); }
  bool busy() const { return busy_; }
  // A hit's part of the output (plan/region_read chooses how to copy it).
  // False when the entry turned out cut short: it is dropped, and the caller
  // decodes the chunk as on a miss.
  bool copy_to(const RegionGeometry& geom, uint8_t* out);
  // The whole decoded chunk of a hit into `out`; false as copy_to.
  bool read_whole(uint8_t* out);
  bool wanted() const { return cache_ != nullptr && !hit_; }
  void fill(const uint8_t* decoded, size_t nbytes);

 private:
  std::shared_ptr<FileCache> cache_;
  std::string key_;
  void gone();
  CachedFile hit_;
  FillClaim claim_;
  bool busy_ = false;
};

}  // namespace fastchunk
