#include "io/byte_source.h"

#include <string>

#include "common/error.h"

namespace fastchunk {

std::string ByteRange::describe() const {
  switch (kind) {
    case Kind::kWhole:
      return "the whole object";
    case Kind::kSlice:
      return "bytes [" + std::to_string(offset) + ", +" + std::to_string(length) + ")";
    case Kind::kSuffix:
      return "the last " + std::to_string(length) + " bytes";
  }
  return "?";
}

void ByteSource::get_many(const std::vector<ByteRequest>& requests,
                          std::vector<ByteBuffer>& storage, std::vector<ObjectBytes>& out,
                          std::vector<uint8_t>& found, int num_threads) {
  storage = std::vector<ByteBuffer>(requests.size());
  out.assign(requests.size(), ObjectBytes{});
  found.assign(requests.size(), 0);
  for (size_t i = 0; i < requests.size(); ++i) {
    try {
      found[i] = get(requests[i].key, requests[i].range, storage[i], out[i]);
    } catch (const Error& e) {
      throw Error(e.kind(), "'" + requests[i].key + "': " + e.what());
    }
  }
}

ByteRange resolve_range(const ByteRange& range, uint64_t object_size) {
  switch (range.kind) {
    case ByteRange::Kind::kWhole:
      return ByteRange::slice(0, object_size);
    case ByteRange::Kind::kSlice:
      if (range.offset > object_size || range.length > object_size - range.offset)
        throw_decode(range.describe() + " lie outside the " + std::to_string(object_size) +
                     "-byte object");
      return range;
    case ByteRange::Kind::kSuffix:
      if (range.length > object_size)
        throw_decode("object of " + std::to_string(object_size) + " bytes is shorter than the " +
                     std::to_string(range.length) + " bytes asked from its end");
      return ByteRange::slice(object_size - range.length, range.length);
  }
  return range;
}

}  // namespace fastchunk
