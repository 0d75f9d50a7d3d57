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
#include "engine/thread_pool.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

[[noreturn]] void rethrow_with_key(const ArraySpec& spec, const std::string& key,
                                   const Error& e) {
  throw Error(e.kind(), spec.store_name + ": chunk '" + key + "': " + e.what());
}

// The stored chunk, or false when nothing is stored for it; `read_key` says
// which object it came from. `again`: the first answer did not stay what the
// file held (see run_chunk_task): read it once more, never through a mapping.
bool read_stored(const ArraySpec& spec, const TaskInput& input, const std::string& key,
                 const TaskLocation& loc, ObjectBytes& got, std::string& read_key,
                 bool again = false) {
  ByteBuffer& storage = scratch(Scratch::kRead);
  ByteSource& source = *input.source;
  const auto get = [&](const std::string& k, const ByteRange& range) {
    read_key = k;
    return again ? source.reread(k, range, storage, got) : source.get(k, range, storage, got);
  };
  if (spec.sharded) {
    if (!input.index) return false;
    if (size_t(loc.inner) >= input.index->entries.size())
      throw Error(ErrorKind::kInternal, "a shard index of another layout");
    const ShardEntry& e = input.index->entries[size_t(loc.inner)];
    if (e.empty()) return false;
    if (!get(key, ByteRange::slice(e.offset, e.nbytes))) return false;
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
  if (get(key, ByteRange::whole())) return true;
  if (!spec.keys.nested_fallback || spec.shape.size() < 2) return false;
  return get(storage_key(spec, loc.coords.data(), '/'), ByteRange::whole());
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
    ObjectBytes got;
    std::string read_key;
    if (!read_stored(spec, input, key, loc, got, read_key)) {
      fill_region(geom, spec.fill.data(), out);
      return TaskOutcome::kDone;
    }
    const Collapsed c = collapse_region(geom);
    const bool in_place = c.outer == 0 && size_t(c.block) == nbytes;
    const bool whole = caching || shared.wanted();
    // Decodes and copies; returns the whole decoded chunk, or null when only
    // the part the selection needs was decoded.
    const auto decode = [&](ByteView raw) -> const uint8_t* {
      check_announced_size(spec.chain, raw, nbytes);  // before allocating for a hostile header
      if (in_place) {
        uint8_t* dst = out + region_dst_offset(geom);
        decode_chunk_on(spec.chain, raw, dst, nbytes, input.decode_threads);
        return dst;
      }
      uint8_t* chunk = scratch(Scratch::kChunk).reserve(nbytes);
      const bool part = !whole && decode_needed_part(spec.chain, raw, geom, chunk, nbytes);
      if (!part) decode_chunk_on(spec.chain, raw, chunk, nbytes, input.decode_threads);
      copy_region(geom, chunk, out);
      return part ? nullptr : chunk;
    };
    // The bytes must have stayed what the file held while they decoded: a
    // mapped file that shrank reads as zero pages (not intact), and a file
    // rewritten in place may hand out a mix of both versions (changed). Either
    // way, what the file holds now is read and decoded once more.
    const auto stayed = [&] { return got.intact() && input.source->unchanged(read_key, got); };
    const uint8_t* decoded = nullptr;
    bool done = false;
    try {
      decoded = decode(got.bytes);
      done = stayed();
    } catch (const Error&) {
      if (stayed()) throw;
    }
    if (!done) {
      got = ObjectBytes{};
      if (!read_stored(spec, input, key, loc, got, read_key, true)) {
        fill_region(geom, spec.fill.data(), out);
        return TaskOutcome::kDone;
      }
      decoded = decode(got.bytes);
      if (!stayed()) throw_decode("the file was rewritten while it was read; read it again");
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
