#include "engine/reader.h"

#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

#include "cache/chunk_cache.h"
#include "cache/shared_cache.h"
#include "common/error.h"
#include "engine/chunk_keys.h"
#include "engine/partial_decode.h"
#include "engine/shard_index.h"
#include "engine/thread_pool.h"
#include "plan/axis_plan.h"
#include "plan/region_copy.h"

namespace fastchunk {
namespace {

// Per-thread buffers, reused from chunk to chunk. Released when a rare huge
// chunk would otherwise pin its memory for the thread's lifetime.
constexpr size_t kKeepScratchBytes = size_t(512) << 20;

ByteBuffer& raw_buffer() {
  thread_local ByteBuffer b;
  return b;
}
ByteBuffer& chunk_buffer() {
  thread_local ByteBuffer b;
  return b;
}

struct Plan {
  const ArraySpec& spec;
  const Selection& sel;
  size_t nd;
  std::vector<AxisPlan> axes;
  std::vector<int64_t> dst_strides, src_strides;
  int64_t ntasks = 1;

  Plan(const ArraySpec& s, const Selection& selection) : spec(s), sel(selection), nd(s.shape.size()) {
    axes.reserve(nd);
    for (size_t d = 0; d < nd; ++d) {
      axes.push_back(plan_axis(sel.indices[d], sel.counts[d], spec.chunk_shape[d]));
      ntasks *= int64_t(axes.back().groups.size());
    }
    dst_strides.assign(nd, 0);
    int64_t stride = spec.itemsize;
    for (size_t d = nd; d-- > 0;) {
      dst_strides[d] = stride;
      stride *= sel.counts[d];
    }
    src_strides.assign(nd, 0);
    stride = spec.itemsize;
    for (size_t i = nd; i-- > 0;) {
      const size_t logical = spec.stored_axes.empty() ? i : size_t(spec.stored_axes[i]);
      src_strides[logical] = stride;
      stride *= spec.chunk_shape[logical];
    }
  }

  // Groups of task t along each axis; the last axis varies fastest.
  void task_groups(int64_t t, std::vector<const AxisGroup*>& groups) const {
    groups.resize(nd);
    for (size_t d = nd; d-- > 0;) {
      const int64_t g = int64_t(axes[d].groups.size());
      groups[d] = &axes[d].groups[size_t(t % g)];
      t /= g;
    }
  }
};

struct ObjectTable {
  std::unordered_map<std::string, size_t> slot;
  std::vector<std::string> keys;
  std::vector<ShardIndex> indexes;
};

void storage_coords(const ArraySpec& spec, const std::vector<const AxisGroup*>& groups,
                    std::vector<int64_t>& coords, int64_t& inner) {
  const size_t nd = groups.size();
  coords.resize(nd);
  inner = 0;
  for (size_t d = 0; d < nd; ++d) {
    const int64_t c = groups[d]->chunk;
    if (spec.sharded) {
      const int64_t per = spec.shard.chunks_per_shard[d];
      coords[d] = c / per;
      inner = inner * per + c % per;
    } else {
      coords[d] = c;
    }
  }
}

[[noreturn]] void rethrow_with_key(const ArraySpec& spec, const std::string& key,
                                   const Error& e) {
  throw Error(e.kind(), spec.store_name + ": chunk '" + key + "': " + e.what());
}

bool fetch_whole(const ArraySpec& spec, ChunkSource& source, const std::string& key,
                 const int64_t* coords, ByteView& raw) {
  if (source.get(key, raw_buffer(), raw)) return true;
  if (!spec.keys.nested_fallback || spec.shape.size() < 2) return false;
  return source.get(storage_key(spec, coords, '/'), raw_buffer(), raw);
}

std::string cache_key_of(const ArraySpec& spec, const std::string& key, int64_t inner) {
  // The decoded size keeps a store rewritten with other chunks (same keys)
  // from ever handing out a cached buffer of the wrong size.
  std::string k = spec.store_name + '\n' + key + '\n' + std::to_string(spec.chunk_nbytes());
  if (spec.sharded) k += '#' + std::to_string(inner);
  return k;
}

// Tasks whose chunk another process was decoding when they ran first.
struct Deferred {
  std::mutex mutex;
  std::vector<int64_t> tasks;
};

void run_task(const Plan& plan, ChunkSource& source, const ObjectTable& shards, int64_t t,
              uint8_t* out, const std::unordered_set<std::string>* skip,
              Deferred* deferred = nullptr) {
  const ArraySpec& spec = plan.spec;
  thread_local std::vector<const AxisGroup*> groups;
  thread_local std::vector<int64_t> coords;
  thread_local std::vector<AxisSpan> spans;
  plan.task_groups(t, groups);
  int64_t inner = 0;
  storage_coords(spec, groups, coords, inner);
  std::string key = storage_key(spec, coords.data(), spec.keys.separator);
  if (skip && skip->count(key)) return;

  spans.resize(plan.nd);
  for (size_t d = 0; d < plan.nd; ++d) {
    const AxisGroup& g = *groups[d];
    spans[d] = AxisSpan{plan.axes[d].out_pos.data() + g.begin,
                        plan.axes[d].in_pos.data() + g.begin, g.count, g.run};
  }
  const RegionGeometry geom{int(plan.nd), spec.itemsize, spans.data(), plan.src_strides.data(),
                            plan.dst_strides.data()};
  try {
    const size_t nbytes = size_t(spec.chunk_nbytes());
    ChunkCache& cache = ChunkCache::instance();
    const bool caching = cache.enabled();
    std::string cache_key;
    if (caching) {
      cache_key = cache_key_of(spec, key, inner);
      if (auto hit = cache.get(cache_key)) {
        copy_region(geom, hit->data.get(), out);
        return;
      }
    }
    SharedChunk shared = SharedChunk::find(spec, source, key, inner, nbytes, deferred != nullptr);
    if (shared.busy()) {
      std::lock_guard<std::mutex> lock(deferred->mutex);
      deferred->tasks.push_back(t);
      return;
    }
    if (shared.hit()) {
      shared.copy_to(geom, out);
      if (caching) cache.put(cache_key, shared.data(), nbytes);
      return;
    }
    ByteView raw;
    bool found;
    if (spec.sharded) {
      const ShardIndex& index = shards.indexes[shards.slot.at(key)];
      found = !index.missing && !index.entries[size_t(inner)].empty();
      if (found) {
        const ShardEntry& e = index.entries[size_t(inner)];
        found = source.get_range(key, e.offset, e.nbytes, raw_buffer(), raw);
      }
    } else {
      found = fetch_whole(spec, source, key, coords.data(), raw);
    }
    if (!found) {
      fill_region(geom, spec.fill.data(), out);
      return;
    }
    check_announced_size(spec.chain, raw, nbytes);  // before allocating for a hostile header
    const Collapsed c = collapse_region(geom);
    if (c.outer == 0 && size_t(c.block) == nbytes) {
      uint8_t* dst = out + region_dst_offset(geom);
      decode_chunk(spec.chain, raw, dst, nbytes);
      if (caching) cache.put(cache_key, dst, nbytes);
      shared.fill(dst, nbytes);
    } else {
      uint8_t* scratch = chunk_buffer().reserve(nbytes);
      if (caching || shared.wanted() ||
          !decode_needed_part(spec.chain, raw, geom, scratch, nbytes)) {
        decode_chunk(spec.chain, raw, scratch, nbytes);
        if (caching) cache.put(cache_key, scratch, nbytes);
        shared.fill(scratch, nbytes);
      }
      copy_region(geom, scratch, out);
      chunk_buffer().shrink_if_above(kKeepScratchBytes);
    }
    raw_buffer().shrink_if_above(kKeepScratchBytes);
  } catch (const Error& e) {
    rethrow_with_key(spec, key, e);
  } catch (const std::bad_alloc&) {
    throw Error(ErrorKind::kMemory, spec.store_name + ": chunk '" + key + "': out of memory");
  }
}

// The distinct stored objects the tasks read; with skip_cached, only those
// holding at least one chunk the decoded-chunk cache does not have.
ObjectTable collect_objects(const Plan& plan, bool skip_cached = false,
                          const std::unordered_set<std::string>* skip = nullptr) {
  ObjectTable table;
  std::vector<const AxisGroup*> groups;
  std::vector<int64_t> coords;
  ChunkCache& cache = ChunkCache::instance();
  skip_cached = skip_cached && cache.enabled();
  for (int64_t t = 0; t < plan.ntasks; ++t) {
    plan.task_groups(t, groups);
    int64_t inner;
    storage_coords(plan.spec, groups, coords, inner);
    std::string key = storage_key(plan.spec, coords.data(), plan.spec.keys.separator);
    if (skip_cached && cache.contains(cache_key_of(plan.spec, key, inner))) continue;
    if (skip && skip->count(key)) continue;
    if (table.slot.emplace(key, table.keys.size()).second) table.keys.push_back(std::move(key));
  }
  return table;
}

}  // namespace

void read_selection(const ArraySpec& spec, ChunkSource& source, const Selection& sel,
                    uint8_t* out, const std::unordered_set<std::string>* skip) {
  for (int64_t c : sel.counts)
    if (c == 0) return;
  const Plan plan(spec, sel);
  ObjectTable shards;
  if (spec.sharded) {
    shards = collect_objects(plan, false, skip);
    shards.indexes.resize(shards.keys.size());
    parallel_for(int64_t(shards.keys.size()), [&](int64_t i) {
      const std::string& key = shards.keys[size_t(i)];
      try {
        shards.indexes[size_t(i)] = read_shard_index(spec, source, key);
      } catch (const Error& e) {
        throw Error(e.kind(), spec.store_name + ": shard '" + key + "': index: " + e.what());
      }
    });
  }
  Deferred deferred;
  parallel_for(plan.ntasks,
               [&](int64_t t) { run_task(plan, source, shards, t, out, skip, &deferred); });
  // By now the other processes have mostly put these in the shared cache.
  parallel_for(int64_t(deferred.tasks.size()), [&](int64_t i) {
    run_task(plan, source, shards, deferred.tasks[size_t(i)], out, skip);
  });
}

std::vector<std::pair<std::string, int64_t>> needed_chunks(const ArraySpec& spec,
                                                           const Selection& sel) {
  for (int64_t c : sel.counts)
    if (c == 0) return {};
  const Plan plan(spec, sel);
  std::vector<std::pair<std::string, int64_t>> chunks;
  chunks.reserve(size_t(plan.ntasks));
  std::vector<const AxisGroup*> groups;
  std::vector<int64_t> coords;
  for (int64_t t = 0; t < plan.ntasks; ++t) {
    plan.task_groups(t, groups);
    int64_t inner;
    storage_coords(spec, groups, coords, inner);
    chunks.emplace_back(storage_key(spec, coords.data(), spec.keys.separator), inner);
  }
  return chunks;
}

std::vector<std::string> needed_keys(const ArraySpec& spec, const Selection& sel,
                                     bool skip_cached) {
  for (int64_t c : sel.counts)
    if (c == 0) return {};
  const Plan plan(spec, sel);
  return collect_objects(plan, skip_cached).keys;
}

}  // namespace fastchunk
