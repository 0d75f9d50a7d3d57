#include "engine/shard_index.h"

#include <cstring>
#include <string>

#include "common/error.h"

namespace fastchunk {

ShardIndex read_shard_index(const ArraySpec& spec, ChunkSource& source, const std::string& key) {
  int64_t n = 1;
  for (int64_t c : spec.shard.chunks_per_shard) n *= c;
  const uint64_t decoded = uint64_t(n) * 16;
  const int64_t stored_size = encoded_size(spec.shard.index_chain, decoded);
  if (stored_size == kUnknownSize)
    throw Error(ErrorKind::kUnsupported, "shard index codecs must have a fixed size (bytes, crc32c)");
  const uint64_t stored = uint64_t(stored_size);
  ShardIndex index;
  ByteBuffer storage;
  ByteView view;
  uint64_t object_size = 0;
  bool found;
  if (spec.shard.index_at_start) {
    found = source.get_range(key, 0, stored, storage, view);
    if (found) {
      ByteBuffer whole;
      ByteView all;
      // Object size is needed to bound the entries; a suffix read of 0 bytes gives it.
      source.get_suffix(key, 0, whole, all, object_size);
    }
  } else {
    found = source.get_suffix(key, stored, storage, view, object_size);
  }
  if (!found) {
    index.missing = true;
    return index;
  }
  ByteBuffer decoded_buf;
  uint8_t* raw = decoded_buf.reserve(decoded);
  decode_chunk(spec.shard.index_chain, view, raw, decoded);
  index.entries.resize(size_t(n));
  std::memcpy(index.entries.data(), raw, decoded);
  for (int64_t i = 0; i < n; ++i) {
    const ShardEntry& e = index.entries[size_t(i)];
    if (e.empty()) continue;
    if (e.offset > object_size || e.nbytes > object_size - e.offset)
      throw_decode("shard index entry " + std::to_string(i) + " points outside the " +
                   std::to_string(object_size) + "-byte shard");
  }
  return index;
}

}  // namespace fastchunk
