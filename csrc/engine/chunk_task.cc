#include "engine/chunk_task.h"

#include <new>
#include <string>
#include <vector>

#include "cache/chunk_cache.h"
#include "cache/shard_index_cache.h"
#include "cache/shared_cache.h"
#include "common/error.h"
#include "common/scratch.h"
#include "engine/partial_decode.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

[[noreturn]] void rethrow_with_key(const ArraySpec& spec, const std::string& key,
                                   const Error& e) {
  throw Error(e.kind(), spec.store_name + ": chunk '" + key + "': " + e.what());
}

// The stored chunk, or false when nothing is stored for it.
bool read_stored(const ArraySpec& spec, const TaskInput& input, const std::string& key,
                 const TaskLocation& loc, ObjectBytes& got) {
  ByteBuffer& storage = scratch(Scratch::kRead);
  if (spec.sharded) {
    if (!input.index) return false;
    if (size_t(loc.inner) >= input.index->entries.size())
      throw Error(ErrorKind::kInternal, "a shard index of another layout");
    const ShardEntry& e = input.index->entries[size_t(loc.inner)];
    if (e.empty()) return false;
    if (!input.source->get(key, ByteRange::slice(e.offset, e.nbytes), storage, got)) return false;
    if (!input.index->version.empty() && !got.version.empty() &&
        got.version != input.index->version) {
      // The index describes an older shard: forget it wherever it is cached.
      ShardIndexCache& indexes = ShardIndexCache::instance();
      indexes.erase(ShardIndexCache::key_of(spec, key, input.index->version));
      indexes.erase(ShardIndexCache::key_of(spec, key, std::string()));
      throw_decode("the shard was rewritten while it was read; read again");
    }
    return true;
  }
  if (input.source->get(key, ByteRange::whole(), storage, got)) return true;
  if (!spec.keys.nested_fallback || spec.shape.size() < 2) return false;
  return input.source->get(storage_key(spec, loc.coords.data(), '/'), ByteRange::whole(), storage,
                           got);
}

}  // namespace

std::string chunk_cache_key(const ArraySpec& spec, const std::string& object_key,
                            int64_t inner) {
  std::string k = spec.store_id + '\n' + object_key + '\n' + std::to_string(spec.chunk_nbytes());
  if (spec.sharded) k += '#' + std::to_string(inner);
  return k;
}

TaskOutcome run_chunk_task(const ArraySpec& spec, const TaskGrid& grid, int64_t t,
                           const TaskInput& input, uint8_t* out) {
  thread_local TaskLocation loc;
  thread_local std::vector<AxisSpan> spans;
  grid.locate(t, loc);
  const std::string key = storage_key(spec, loc.coords.data(), spec.keys.separator);
  const RegionGeometry geom = grid.geometry(t, spans);
  try {
    const size_t nbytes = size_t(spec.chunk_nbytes());
    ChunkCache& cache = ChunkCache::instance();
    const bool caching = cache.enabled();
    std::string cache_key;
    if (caching) {
      cache_key = chunk_cache_key(spec, key, loc.inner);
      if (auto hit = cache.get(cache_key)) {
        copy_region(geom, hit->data.get(), out);
        return TaskOutcome::kDone;
      }
    }
    if (input.cache_only) return TaskOutcome::kNotCached;
    // The node-wide level: a chunk another process decoded (or is decoding).
    SharedChunk shared =
        SharedChunk::find(spec, *input.source, key, loc.inner, nbytes, input.may_defer);
    if (shared.busy()) return TaskOutcome::kBusy;
    if (shared.hit()) {
      shared.copy_to(geom, out);
      if (caching) cache.put(cache_key, shared.data(), nbytes);
      return TaskOutcome::kDone;
    }
    ObjectBytes got;
    if (!read_stored(spec, input, key, loc, got)) {
      fill_region(geom, spec.fill.data(), out);
      return TaskOutcome::kDone;
    }
    const ByteView raw = got.bytes;
    check_announced_size(spec.chain, raw, nbytes);  // before allocating for a hostile header
    const Collapsed c = collapse_region(geom);
    if (c.outer == 0 && size_t(c.block) == nbytes) {
      uint8_t* dst = out + region_dst_offset(geom);
      decode_chunk(spec.chain, raw, dst, nbytes);
      if (caching) cache.put(cache_key, dst, nbytes);
      shared.fill(dst, nbytes);
    } else {
      uint8_t* chunk = scratch(Scratch::kChunk).reserve(nbytes);
      if (caching || shared.wanted() ||
          !decode_needed_part(spec.chain, raw, geom, chunk, nbytes)) {
        decode_chunk(spec.chain, raw, chunk, nbytes);
        if (caching) cache.put(cache_key, chunk, nbytes);
        shared.fill(chunk, nbytes);
      }
      copy_region(geom, chunk, out);
    }
    trim_scratch();
  } catch (const Error& e) {
    rethrow_with_key(spec, key, e);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::kMemory, spec.store_name + ": chunk '" + key + "': out of memory");
  }
  return TaskOutcome::kDone;
}

}  // namespace fastchunk
