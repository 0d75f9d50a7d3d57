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
