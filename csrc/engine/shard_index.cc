#include "engine/shard_index.h"

#include <cstring>
#include <string>

#include "cache/shard_index_cache.h"
#include "common/error.h"
#include "engine/stored_read.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

// Inner chunks per shard; their 16-byte entries must fit in memory.
uint64_t inner_chunks(const ShardSpec& shard) {
  uint64_t n = 1;
  for (int64_t c : shard.chunks_per_shard)
    if (c < 1 || __builtin_mul_overflow(n, uint64_t(c), &n) || n > (uint64_t(1) << 40))
      throw Error(ErrorKind::kMetadata, "invalid number of inner chunks per shard");
  return n;
}

[[noreturn]] void rethrow_for_shard(const ArraySpec& spec, const std::string& key,
                                    const Error& e) {
  throw e.in(spec.store_name + ": shard '" + key + "': index: ");
}

}  // namespace

uint64_t shard_index_nbytes(const ShardSpec& shard) {
  const KnownSize stored =
      encoded_size(shard.index_chain, inner_chunks(shard) * sizeof(ShardEntry));
  if (!stored)
    throw Error(ErrorKind::kUnsupported,
                "shard index codecs must have a fixed size (bytes, crc32c)");
  return *stored;
}

ByteRange shard_index_range(const ShardSpec& shard) {
  const uint64_t nbytes = shard_index_nbytes(shard);
  return shard.index_at_start ? ByteRange::slice(0, nbytes) : ByteRange::suffix(nbytes);
}

ShardIndex decode_shard_index(const ShardSpec& shard, ByteView stored, uint64_t object_size) {
  const uint64_t n = inner_chunks(shard);
  const size_t decoded = size_t(n) * sizeof(ShardEntry);
  // The index codecs fix the stored size: anything else is not this index
  // (and must not size an allocation).
  if (stored.size != shard_index_nbytes(shard))
    throw_decode("the stored index holds " + std::to_string(stored.size) + " bytes, not the " +
                 std::to_string(shard_index_nbytes(shard)) + " that " + std::to_string(n) +
                 " entries make");
  ShardIndex index;
  index.entries.resize(size_t(n));
  decode_chunk(shard.index_chain, stored, reinterpret_cast<uint8_t*>(index.entries.data()),
               decoded);
  for (uint64_t i = 0; i < n; ++i) {
    const ShardEntry& e = index.entries[size_t(i)];
    if (e.empty()) continue;
    if (e.offset > object_size || e.nbytes > object_size - e.offset)
      throw_decode("entry " + std::to_string(i) + " (offset " + std::to_string(e.offset) +
                   ", " + std::to_string(e.nbytes) + " bytes) points outside the " +
                   std::to_string(object_size) + "-byte shard");
  }
  return index;
}

std::shared_ptr<const ShardIndex> read_shard_index(const ShardSpec& shard, ByteSource& source,
                                                   const std::string& key) {
  std::shared_ptr<ShardIndex> index;
  StoredPlace place;
  place.key = key;
  place.range = shard_index_range(shard);
  const StoredRead read = read_and_decode(source, place, [&](const ObjectBytes& got) {
    if (got.object_size == kUnknownObjectSize)
      throw Error(ErrorKind::kNotFetched, "the size of shard '" + key + "' was not fetched");
    index = std::make_shared<ShardIndex>(decode_shard_index(shard, got.bytes, got.object_size));
    index->version = got.version;
  });
  return read == StoredRead::kDecoded ? index : nullptr;
}

std::vector<std::shared_ptr<const ShardIndex>> load_shard_indexes(
    const ArraySpec& spec, ByteSource& source, const std::vector<std::string>& keys,
    int num_threads) {
  ShardIndexCache& cache = ShardIndexCache::instance();
  std::vector<std::shared_ptr<const ShardIndex>> indexes(keys.size());
  std::vector<size_t> todo;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (cache.enabled())
      indexes[i] = cache.get(ShardIndexCache::key_of(spec, keys[i], source.version(keys[i])));
    if (!indexes[i]) todo.push_back(i);
  }
  parallel_for(
      int64_t(todo.size()),
      [&](int64_t j) {
        const size_t i = todo[size_t(j)];
        try {
          indexes[i] = read_shard_index(spec.shard, source, keys[i]);  // null: the fill value
        } catch (const Error& e) {
          rethrow_for_shard(spec, keys[i], e);
        }
      },
      num_threads);
  if (cache.enabled())
    for (size_t i : todo)
      if (indexes[i])
        cache.put(ShardIndexCache::key_of(spec, keys[i], indexes[i]->version), indexes[i]);
  return indexes;
}

}  // namespace fastchunk
