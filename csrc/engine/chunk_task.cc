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
#include "engine/stored_read.h"
#include "engine/thread_pool.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

[[noreturn]] void rethrow_with_key(const ArraySpec& spec, const std::string& key,
                                   const Error& e) {
  throw e.in(spec.store_name + ": chunk '" + key + "': ");
}

// Where task `loc`'s stored bytes are: the chunk object (or, v2 stores
// without a dimension separator, its nested key), or the shard entry's byte
// range of the object its index was read from. False when nothing is stored.
bool stored_place(const ArraySpec& spec, const TaskInput& input, const std::string& key,
                  const TaskLocation& loc, StoredPlace& place) {
  place.key = key;
  if (spec.sharded) {
    if (!input.index) return false;
    if (size_t(loc.inner) >= input.index->entries.size())
      throw Error(ErrorKind::kInternal, "a shard index of another layout");
    const ShardEntry& e = input.index->entries[size_t(loc.inner)];
    if (e.empty()) return false;
    place.range = ByteRange::slice(e.offset, e.nbytes);
    place.version = input.index->version;
    return true;
  }
  if (spec.keys.nested_fallback && spec.shape.size() >= 2)
    place.alt_key = storage_key(spec, loc.coords.data(), '/');
  return true;
}

}  // namespace

int decode_threads_per_task(int64_t tasks, int threads) {
  if (threads < 1) threads = num_threads();
  if (tasks <= 0 || tasks >= threads) return 1;
  return int(threads / tasks);
}

void decode_chunk_on(const ChainSpec& chain, ByteView raw, uint8_t* out, size_t out_size,
                     int threads) {
  SplitDecode plan;
  // Small pieces (blosc: up to a block each), taken in turn: a thread that
  // loses its core to another process holds up one small piece, not half the chunk.
  if (threads > 1 && split_decode(chain, raw, out_size, size_t(threads) * 8, &plan)) {
    parallel_for(
        int64_t(plan.pieces.size()), [&](int64_t i) { decode_piece(plan, size_t(i), out); },
        threads);
    return;
  }
  decode_chunk(chain, raw, out, out_size);
}

std::string stored_object_version(const ArraySpec& spec, ByteSource& source,
                                  const std::string& key, const int64_t* coords) {
  std::string version = source.version(key);
  if (version.empty() && !spec.sharded && spec.keys.nested_fallback && spec.shape.size() >= 2)
    version = source.version(storage_key(spec, coords, '/'));
  return version;
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
      cache_key = decoded_chunk_key(spec, key, loc.inner,
                                    stored_object_version(spec, *input.source, key,
                                                          loc.coords.data()));
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
      bool copied = false;
      if (caching) {  // kept by this process too: taken whole
        uint8_t* whole = scratch(Scratch::kChunk).reserve(nbytes);
        copied = shared.read_whole(whole);
        if (copied) {
          copy_region(geom, whole, out);
          cache.put(cache_key, whole, nbytes);
        }
      } else {
        copied = shared.copy_to(geom, out);
      }
      if (copied) {
        trim_scratch();
        return TaskOutcome::kDone;
      }
      // The entry was cut short under us: decoded below, as on a miss.
    }
    StoredPlace place;
    const bool stored = stored_place(spec, input, key, loc, place);
    const Collapsed c = collapse_region(geom);
    const bool in_place = c.outer == 0 && size_t(c.block) == nbytes;
    const bool whole = caching || shared.wanted();
    // The whole decoded chunk, or null when only the part the selection
    // needs was decoded.
    const uint8_t* decoded = nullptr;
    const auto decode = [&](const ObjectBytes& got) {
      const ByteView raw = got.bytes;
      check_announced_size(spec.chain, raw, nbytes);  // before allocating for a hostile header
      if (in_place) {
        uint8_t* dst = out + region_dst_offset(geom);
        decode_chunk_on(spec.chain, raw, dst, nbytes, input.decode_threads);
        decoded = dst;
        return;
      }
      uint8_t* chunk = scratch(Scratch::kChunk).reserve(nbytes);
      const bool part = !whole && decode_needed_part(spec.chain, raw, geom, chunk, nbytes);
      if (!part) decode_chunk_on(spec.chain, raw, chunk, nbytes, input.decode_threads);
      copy_region(geom, chunk, out);
      decoded = part ? nullptr : chunk;
    };
    const StoredRead read =
        stored ? read_and_decode(*input.source, place, decode) : StoredRead::kMissing;
    if (read == StoredRead::kStale) {
      // The index describes an older shard: forget it wherever it is cached.
      ShardIndexCache& indexes = ShardIndexCache::instance();
      indexes.erase(ShardIndexCache::key_of(spec, key, input.index->version));
      indexes.erase(ShardIndexCache::key_of(spec, key, std::string()));
      throw_decode("the shard was rewritten while it was read; read again");
    }
    if (read == StoredRead::kMissing) {
      fill_region(geom, spec.fill.data(), out);
      return TaskOutcome::kDone;
    }
    if (decoded) {
      if (caching) cache.put(cache_key, decoded, nbytes);
      shared.fill(decoded, nbytes);
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
