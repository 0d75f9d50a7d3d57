// The index of a sharding_indexed object: where it lies, decoding and
// checking it, and reading it through a source and the shard-index cache.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/array_spec.h"
#include "io/byte_source.h"

namespace fastchunk {

struct ShardEntry {
  uint64_t offset;
  uint64_t nbytes;
  // zarr writes (2^64-1, 2^64-1) for an inner chunk that is not stored;
  // zarrita 0.2.7 writes (N, 2^64-1): nbytes alone decides.
  bool empty() const { return nbytes == UINT64_MAX; }
};

struct ShardIndex {
  std::vector<ShardEntry> entries;  // C order over the shard's inner-chunk grid
  std::string version;              // of the object it was read from; "" when unknown
  size_t nbytes() const { return sizeof(*this) + entries.size() * sizeof(ShardEntry) + version.size(); }
};

// The stored size of the index (16 bytes per inner chunk through the index
// codecs, which must fix it: bytes, crc32c); throws kUnsupported otherwise.
uint64_t shard_index_nbytes(const ShardSpec& shard);

// Where the stored index lies in the shard object.
ByteRange shard_index_range(const ShardSpec& shard);

// Decodes the stored index bytes (checksum and byte order through the index
// codecs) and checks that every entry but the empty ones lies inside an
// object of `object_size` bytes.
ShardIndex decode_shard_index(const ShardSpec& shard, ByteView stored, uint64_t object_size);

// The index of the shard stored under `key`, read from `source`; null when
// the shard does not exist.
std::shared_ptr<const ShardIndex> read_shard_index(const ShardSpec& shard, ByteSource& source,
                                                   const std::string& key);

// The indexes of the shards `keys` (null for the missing ones), from the
// shard-index cache where it holds them under the object's current version,
// else read through `source` (concurrently) and cached. Errors name the
// store and the shard.
std::vector<std::shared_ptr<const ShardIndex>> load_shard_indexes(
    const ArraySpec& spec, ByteSource& source, const std::vector<std::string>& keys,
    int num_threads);

}  // namespace fastchunk
