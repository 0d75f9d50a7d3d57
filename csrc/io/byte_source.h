// Where stored bytes come from. One interface, get(key, byte range), batched,
// implemented by local files (LocalSource: pread) and by bytes the Python
// layer fetched from an object store (FetchedSource).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer.h"

namespace fastchunk {

constexpr uint64_t kUnknownObjectSize = UINT64_MAX;

// Which bytes of an object a read asks for.
struct ByteRange {
  enum class Kind : uint8_t {
    kWhole,   // the whole object
    kSlice,   // [offset, offset + length)
    kSuffix,  // the last `length` bytes, and the object's size (length 0: the size only)
  };
  Kind kind = Kind::kWhole;
  uint64_t offset = 0;
  uint64_t length = 0;

  static ByteRange whole() { return ByteRange{}; }
  static ByteRange slice(uint64_t offset, uint64_t length) {
    return ByteRange{Kind::kSlice, offset, length};
  }
  static ByteRange suffix(uint64_t length) { return ByteRange{Kind::kSuffix, 0, length}; }
  bool operator==(const ByteRange& o) const {
    return kind == o.kind && offset == o.offset && length == o.length;
  }
  std::string describe() const;  // "bytes [10, +20)", for messages
};

struct ByteRequest {
  std::string key;
  ByteRange range;
};

// Memory a source hands out instead of copying into the caller's storage
// (a mapped file, a cached object), kept alive by ObjectBytes::owner.
class HeldBytes {
 public:
  virtual ~HeldBytes() = default;
  // False once the memory no longer holds the object's bytes (a mapped file
  // that shrank while it was read: its pages read as zeros).
  virtual bool intact() const { return true; }
};

// The answer to one get.
struct ObjectBytes {
  ByteView bytes;                      // the range asked for, exactly
  uint64_t object_size = kUnknownObjectSize; // the whole object's size, where the source knows it
  std::string version;                 // changes when the object is rewritten; "" where unknown
  std::shared_ptr<const HeldBytes> owner;  // what holds `bytes` when not the caller's storage

  // Whether `bytes` still held the object's bytes when asked: after decoding
  // from them, a false answer means decode again from reread().
  bool intact() const { return !owner || owner->intact(); }
};

class ByteSource {
 public:
  virtual ~ByteSource() = default;

  // The bytes `range` of object `key`, in `storage` or in memory the source
  // owns; false when the object does not exist. Throws Error(kDecode) when
  // the range lies outside the object, Error(kNotFetched) when a fetched
  // source was not given the bytes.
  virtual bool get(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                   ObjectBytes& out) = 0;

  // get() again after its answer turned out not intact(): reads into
  // `storage`, never through memory that can be lost.
  virtual bool reread(const std::string& key, const ByteRange& range, ByteBuffer& storage,
                      ObjectBytes& out) {
    return get(key, range, storage, out);
  }

  // The object's version as stored now, without reading it ("" when absent
  // or unknown): lets a cache tell a rewritten object from the one it holds.
  virtual std::string version(const std::string& key) { return {}; }

  // Whether `key` is still the object `got` was read from: false when a
  // writer rewrote it in place meanwhile, so that the bytes read may mix both
  // versions. Sources whose answers cannot change under a read say true.
  virtual bool unchanged(const std::string& key, const ObjectBytes& got) { return true; }

  // A hint that `range` of `key` will be read soon: a source that can start
  // fetching it in the background (local files: the kernel's readahead)
  // does, so that reads of a cold page cache overlap with decoding.
  virtual void prefetch(const std::string& key, const ByteRange& range) {}
};

// Throws Error(kDecode) unless `range` lies inside an object of `object_size`
// bytes; returns its [offset, offset + length) there.
ByteRange resolve_range(const ByteRange& range, uint64_t object_size);

}  // namespace fastchunk
