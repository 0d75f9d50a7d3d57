#include "engine/stored_read.h"

#include "common/scratch.h"

namespace fastchunk {
namespace detail {

StoredRead read_place(ByteSource& source, const StoredPlace& place, ObjectBytes& got,
                      std::string& from, bool again) {
  ByteBuffer& storage = scratch(Scratch::kRead);
  const auto get = [&](const std::string& key) {
    from = key;
    return again ? source.reread(key, place.range, storage, got)
                 : source.get(key, place.range, storage, got);
  };
  if (!get(place.key) && (place.alt_key.empty() || !get(place.alt_key)))
    return StoredRead::kMissing;
  if (!place.version.empty() && !got.version.empty() && got.version != place.version)
    return StoredRead::kStale;
  return StoredRead::kDecoded;
}

}  // namespace detail
}  // namespace fastchunk
