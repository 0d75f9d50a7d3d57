// Where stored bytes come from. One interface, get(key, byte range), batched,
// implemented by local files (LocalSource: pread) and by bytes the Python
// layer fetched from an object store (FetchedSource).
#pragma once
#include <cstdint>
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

// The answer to one get.
struct ObjectBytes {
  ByteView bytes;                      // the range asked for, exactly
  uint64_t object_size = kUnknownObjectSize; // the whole object's size, where the source knows it
  std::string version;                 // changes when the object is rewritten; "" where unknown
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

  // get() for every request, concurrently where the source can: found[i]
  // and out[i] answer requests[i]; storage holds one buffer per request.
  // An error names the key it is about.
  virtual void get_many(const std::vector<ByteRequest>& requests,
                        std::vector<ByteBuffer>& storage, std::vector<ObjectBytes>& out,
                        std::vector<uint8_t>& found, int num_threads);

  // The object's version as stored now, without reading it ("" when absent
  // or unknown): lets a cache tell a rewritten object from the one it holds.
  virtual std::string version(const std::string& key) { return {}; }
};

// Throws Error(kDecode) unless `range` lies inside an object of `object_size`
// bytes; returns its [offset, offset + length) there.
ByteRange resolve_range(const ByteRange& range, uint64_t object_size);

}  // namespace fastchunk
