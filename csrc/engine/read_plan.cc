#include "engine/read_plan.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <string>
#include <utility>

#include "cache/chunk_cache.h"
#include "cache/shard_index_cache.h"
#include "common/error.h"
#include "engine/chunk_task.h"
#include "engine/thread_pool.h"

namespace fastchunk {
namespace {

// Runs run(i, may_defer) for i in [0, count) on the pool, then once more,
// without deferring, for those that came back kBusy (another process was
// decoding the chunk for the shared cache: by the end it mostly has).
// outcome[i] is each one's final outcome.
template <typename Run>
void run_deferring(int64_t count, const Run& run, int threads, std::vector<TaskOutcome>& outcome) {
  outcome.assign(size_t(count), TaskOutcome::kDone);
  std::mutex mutex;
  std::vector<int64_t> deferred;
  parallel_for(
      count,
      [&](int64_t i) {
        outcome[size_t(i)] = run(i, true);
        if (outcome[size_t(i)] == TaskOutcome::kBusy) {
          std::lock_guard<std::mutex> lock(mutex);
          deferred.push_back(i);
        }
      },
      threads);
  parallel_for(
      int64_t(deferred.size()),
      [&](int64_t j) { outcome[size_t(deferred[size_t(j)])] = run(deferred[size_t(j)], false); },
      threads);
}

std::atomic<bool> g_read_ahead{true};

// Stored bytes asked for ahead of the decoding threads.
constexpr uint64_t kReadAheadBytes = uint64_t(64) << 20;
constexpr int64_t kReadAheadMaxTasks = 256;

// Hints the source about the tasks ahead of those being decoded, so that a
// cold page cache (NVMe, Lustre) has reads in flight while chunks decode:
// about kReadAheadBytes of chunks, at least two per thread. The tasks that
// start at once are hinted too: one large read of each file, rather than
// page faults reading it a little at a time.
class ReadAhead {
 public:
  ReadAhead(int64_t ntasks, size_t chunk_nbytes, int threads,
            std::function<void(int64_t)> hint)
      : ntasks_(ntasks), hint_(std::move(hint)) {
    if (!g_read_ahead.load(std::memory_order_relaxed)) {
      next_.store(ntasks);
      return;
    }
    const int64_t by_bytes = int64_t(kReadAheadBytes / std::max<size_t>(chunk_nbytes, 1));
    window_ = std::min(kReadAheadMaxTasks, std::max<int64_t>(2 * int64_t(threads), by_bytes));
    upto(window_);
  }
  // Called as task t starts: hints tasks up to t + window.
  void starting(int64_t t) { upto(t + window_ + 1); }

 private:
  void upto(int64_t end) {
    end = std::min(end, ntasks_);
    int64_t n = next_.load(std::memory_order_relaxed);
    while (n < end) {
      if (next_.compare_exchange_weak(n, n + 1)) {
        hint_(n);
        ++n;
      }
    }
  }
  int64_t ntasks_;
  int64_t window_ = 0;
  std::atomic<int64_t> next_{0};
  std::function<void(int64_t)> hint_;
};

// A chunk the decoded cache holds is not read: no hint for it (the hint
// costs a walk of the file's pages in the kernel, warm or not).
bool decoded_cached(const ArraySpec& spec, ByteSource& source, const std::string& key,
                    const TaskLocation& at) {
  const ChunkCache& chunks = ChunkCache::instance();
  return chunks.enabled() &&
         chunks.contains(decoded_chunk_key(
             spec, key, at.inner, stored_object_version(spec, source, key, at.coords.data())));
}

}  // namespace

ReadPlan::ReadPlan(const ArraySpec& spec, const Selection& sel, int num_threads,
                   bool skip_cached)
    : spec_(spec),
      grid_(spec, sel),
      threads_(num_threads),
      skip_cached_(skip_cached),
      output_nbytes_(grid_.output_nbytes()) {}

// ------------------------------------------------------------------ local

void ReadPlan::execute(ByteSource& source, uint8_t* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  const int64_t n = grid_.ntasks();
  if (output_nbytes_ == 0 || n == 0) return;
  std::vector<TaskOutcome> outcome;
  const int split = decode_threads_per_task(n, threads_);
  const int threads = threads_ < 1 ? num_threads() : threads_;
  // The compressed cache in front of the files (a pass-through when it is off).
  CachedSource cached(source, spec_.store_id, true);
  if (!spec_.sharded) {
    ReadAhead ahead(n, size_t(spec_.chunk_nbytes()), threads, [&](int64_t t) {
      thread_local TaskLocation at;
      grid_.locate(t, at);
      const std::string key = storage_key(spec_, at.coords.data(), spec_.keys.separator);
      if (!decoded_cached(spec_, source, key, at)) source.prefetch(key, ByteRange::whole());
    });
    run_deferring(
        n,
        [&](int64_t t, bool may_defer) {
          if (may_defer) ahead.starting(t);
          return run_chunk_task(spec_, grid_, t,
                                TaskInput{&cached, nullptr, false, may_defer, split}, out);
        },
        threads_, outcome);
    return;
  }
  std::unordered_map<std::string, uint32_t> slot;
  std::vector<std::string> keys;
  std::vector<uint32_t> shard_of(size_t(n), 0);
  TaskLocation loc;
  for (int64_t t = 0; t < n; ++t) {
    grid_.locate(t, loc);
    std::string key = storage_key(spec_, loc.coords.data(), spec_.keys.separator);
    auto it = slot.emplace(std::move(key), uint32_t(keys.size()));
    if (it.second) keys.push_back(it.first->first);
    shard_of[size_t(t)] = it.first->second;
  }
  const auto indexes = load_shard_indexes(spec_, source, keys, threads_);
  ReadAhead ahead(n, size_t(spec_.chunk_nbytes()), threads, [&](int64_t t) {
    const ShardIndex* index = indexes[shard_of[size_t(t)]].get();
    if (!index) return;
    thread_local TaskLocation at;
    grid_.locate(t, at);
    if (size_t(at.inner) >= index->entries.size()) return;
    const ShardEntry& e = index->entries[size_t(at.inner)];
    const std::string& key = keys[shard_of[size_t(t)]];
    if (!e.empty() && !decoded_cached(spec_, source, key, at))
      source.prefetch(key, ByteRange::slice(e.offset, e.nbytes));
  });
  run_deferring(
      n,
      [&](int64_t t, bool may_defer) {
        if (may_defer) ahead.starting(t);
        const ShardIndex* index = indexes[shard_of[size_t(t)]].get();
        return run_chunk_task(spec_, grid_, t, TaskInput{&cached, index, false, may_defer, split},
                              out);
      },
      threads_, outcome);
}

void set_read_ahead(bool on) { g_read_ahead.store(on); }
bool read_ahead() { return g_read_ahead.load(); }

void read_selection(const ArraySpec& spec, ByteSource& source, const Selection& sel,
                    uint8_t* out, int num_threads) {
  ReadPlan(spec, sel, num_threads).execute(source, out);
}

// ------------------------------------------------------------------ tables

void ReadPlan::build_tables() {
  if (tables_) return;
  tables_ = true;
  const int64_t n = output_nbytes_ ? grid_.ntasks() : 0;
  task_object_.resize(size_t(n));
  task_inner_.resize(size_t(n));
  state_.assign(size_t(n), TaskState::kWaiting);
  left_ = n;
  ChunkCache& chunks = ChunkCache::instance();
  const bool cached = skip_cached_ && chunks.enabled();
  const bool alt = !spec_.sharded && spec_.keys.nested_fallback && spec_.shape.size() >= 2;
  TaskLocation loc;
  for (int64_t t = 0; t < n; ++t) {
    grid_.locate(t, loc);
    std::string key = storage_key(spec_, loc.coords.data(), spec_.keys.separator);
    auto it = slot_.find(key);
    if (it == slot_.end()) {
      Object o;
      o.key = key;
      if (alt) o.alt_key = storage_key(spec_, loc.coords.data(), '/');
      it = slot_.emplace(key, uint32_t(objects_.size())).first;
      if (!o.alt_key.empty()) slot_.emplace(o.alt_key, uint32_t(objects_.size()));
      objects_.push_back(std::move(o));
    }
    Object& o = objects_[it->second];
    o.tasks.push_back(t);
    ++o.left;
    task_object_[size_t(t)] = it->second;
    task_inner_[size_t(t)] = loc.inner;
    if (cached) mark_if_cached(t, loc);
  }
  if (!spec_.sharded && skip_cached_ && StoredCache::instance().enabled())
    for (Object& o : objects_) refresh(o);
}

void ReadPlan::know_versions(const std::vector<std::string>& keys,
                             const std::vector<std::string>& versions) {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  if (keys.size() != versions.size())
    throw Error(ErrorKind::kInternal, "know_versions: keys and versions differ in number");
  const bool cached = skip_cached_ && ChunkCache::instance().enabled();
  TaskLocation loc;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto it = slot_.find(keys[i]);
    if (it == slot_.end()) continue;
    Object& o = objects_[it->second];
    o.known_version = versions[i];
    if (versions[i].empty() || keys[i] != o.key) continue;
    fetched_.know_version(o.key, versions[i]);
    // Decoded chunks of this version need no bytes.
    if (cached)
      for (int64_t t : o.tasks) {
        if (state_[size_t(t)] != TaskState::kWaiting) continue;
        grid_.locate(t, loc);
        mark_if_cached(t, loc);
      }
  }
}

void ReadPlan::mark_if_cached(int64_t t, const TaskLocation& loc) {
  // The version known now (learned by the caller's store, or carried by an
  // answer): the task's own lookup asks the same source.
  const std::string& key = objects_[task_object_[size_t(t)]].key;
  const std::string version = stored_object_version(spec_, fetched_, key, loc.coords.data());
  if (!ChunkCache::instance().contains(decoded_chunk_key(spec_, key, loc.inner, version))) return;
  state_[size_t(t)] = TaskState::kCached;
  ready_.push_back(t);
}

void ReadPlan::provide_stored(Object& o) {
  StoredCache& stored = StoredCache::instance();
  if (!skip_cached_ || !stored.enabled()) return;
  // Copies of the object the plan reads: the index's version, else the
  // version of what was fetched already, where known.
  const std::string want = o.index ? o.index->version : fetched_.version(o.key);
  const auto provide = [&](const ByteRange& range) {
    if (fetched_.has(o.key, range)) return;
    auto hit = stored.peek(StoredCache::key_of(spec_.store_id, o.key, range));
    if (!hit) return;
    if (!want.empty() && !hit->version.empty() && hit->version != want) return;
    fetched_.provide(o.key, range, ByteView{hit->data.get(), hit->size},
                     range.kind == ByteRange::Kind::kWhole ? hit->size : kUnknownObjectSize,
                     hit->version);
    from_stored_.push_back(std::move(hit));
  };
  if (!spec_.sharded) {
    provide(ByteRange::whole());
    return;
  }
  if (!o.index) return;
  for (int64_t t : o.tasks) {
    if (state_[size_t(t)] != TaskState::kWaiting) continue;
    const ShardEntry& e = o.index->entries[size_t(task_inner_[size_t(t)])];
    if (!e.empty()) provide(ByteRange::slice(e.offset, e.nbytes));
  }
}

ReadPlan::Object& ReadPlan::object_of(const std::string& key) {
  auto it = slot_.find(key);
  if (it == slot_.end())
    throw Error(ErrorKind::kInternal, spec_.store_name + ": '" + key +
                                          "' is not an object this read needs");
  return objects_[it->second];
}

bool ReadPlan::bytes_present(int64_t t) const {
  const Object& o = objects_[task_object_[size_t(t)]];
  if (!spec_.sharded) {
    if (!fetched_.has(o.key, ByteRange::whole())) return false;
    if (o.alt_key.empty() || !fetched_.known_missing(o.key)) return true;
    return fetched_.has(o.alt_key, ByteRange::whole());
  }
  if (o.missing) return true;
  if (!o.index) return false;
  const ShardEntry& e = o.index->entries[size_t(task_inner_[size_t(t)])];
  return e.empty() || fetched_.has(o.key, ByteRange::slice(e.offset, e.nbytes));
}

void ReadPlan::refresh(Object& o) {
  provide_stored(o);
  for (int64_t t : o.tasks)
    if (state_[size_t(t)] == TaskState::kWaiting && bytes_present(t)) {
      state_[size_t(t)] = TaskState::kReady;
      ready_.push_back(t);
    }
}

void ReadPlan::try_index(Object& o) {
  if (o.index || o.missing) return;
  ShardIndexCache& indexes = ShardIndexCache::instance();
  if (!o.looked_up) {
    o.looked_up = true;
    if (indexes.enabled() && !fetched_.known_missing(o.key)) {
      o.index = indexes.get(ShardIndexCache::key_of(spec_, o.key, o.known_version));
      if (o.index) {
        refresh(o);
        return;
      }
    }
  }
  if (fetched_.known_missing(o.key)) {
    o.missing = true;
    refresh(o);
    return;
  }
  const ByteRange where = shard_index_range(spec_.shard);
  if (!fetched_.has(o.key, where) || !fetched_.has(o.key, ByteRange::suffix(0))) return;
  try {
    o.index = read_shard_index(spec_.shard, fetched_, o.key);
  } catch (const Error& e) {
    throw e.in(spec_.store_name + ": shard '" + o.key + "': index: ");
  }
  if (!o.index) {
    o.missing = true;
  } else if (indexes.enabled()) {
    indexes.put(ShardIndexCache::key_of(spec_, o.key, o.index->version), o.index);
  }
  refresh(o);
}

void ReadPlan::forget_index(Object& o) {
  ShardIndexCache::instance().erase(ShardIndexCache::key_of(spec_, o.key, o.index->version));
  o.index.reset();
  o.looked_up = true;  // the version the caller knew is the old one
  // Tasks made ready by bytes of the old object wait for the new index.
  std::vector<int64_t> ready;
  for (int64_t t : ready_) {
    if (task_object_[size_t(t)] == uint32_t(&o - objects_.data()) &&
        state_[size_t(t)] == TaskState::kReady) {
      state_[size_t(t)] = TaskState::kWaiting;
      continue;
    }
    ready.push_back(t);
  }
  ready_.swap(ready);
}

// ------------------------------------------------------------------ fetch protocol

void ReadPlan::append_requests(const Object& o, std::vector<ByteRequest>& out) const {
  if (!spec_.sharded) {
    if (!fetched_.has(o.key, ByteRange::whole()))
      out.push_back(ByteRequest{o.key, ByteRange::whole()});
    else if (!o.alt_key.empty() && fetched_.known_missing(o.key) &&
             !fetched_.has(o.alt_key, ByteRange::whole()))
      out.push_back(ByteRequest{o.alt_key, ByteRange::whole()});
    return;
  }
  if (o.missing) return;
  if (!o.index) {
    const ByteRange where = shard_index_range(spec_.shard);
    if (!fetched_.has(o.key, where)) out.push_back(ByteRequest{o.key, where});
    // The object's size bounds the entries; an index at the end comes with it.
    if (spec_.shard.index_at_start && !fetched_.has(o.key, ByteRange::suffix(0)))
      out.push_back(ByteRequest{o.key, ByteRange::suffix(0)});
    return;
  }
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (offset, nbytes) of needed chunks
  for (int64_t t : o.tasks) {
    if (state_[size_t(t)] != TaskState::kWaiting) continue;
    const ShardEntry& e = o.index->entries[size_t(task_inner_[size_t(t)])];
    if (!e.empty()) ranges.emplace_back(e.offset, e.nbytes);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t start = 0, end = 0;
  bool open = false;
  for (const auto& [offset, nbytes] : ranges) {
    const uint64_t stop = offset + nbytes;  // inside the object: checked with the index
    if (open && coalesce_ && offset <= end + kCoalesceGap &&
        std::max(end, stop) - start <= kMaxRequest) {
      end = std::max(end, stop);
      continue;
    }
    if (open) out.push_back(ByteRequest{o.key, ByteRange::slice(start, end - start)});
    start = offset;
    end = stop;
    open = true;
  }
  if (open) out.push_back(ByteRequest{o.key, ByteRange::slice(start, end - start)});
}

void ReadPlan::set_coalesce(bool on) {
  std::lock_guard<std::mutex> lock(mutex_);
  coalesce_ = on;
}

std::vector<ByteRequest> ReadPlan::pending() {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  std::vector<ByteRequest> out;
  for (Object& o : objects_) {
    if (o.left == 0) continue;
    bool waiting = false;
    for (int64_t t : o.tasks) waiting = waiting || state_[size_t(t)] == TaskState::kWaiting;
    if (!waiting) continue;
    if (spec_.sharded) try_index(o);
    append_requests(o, out);
  }
  return out;
}

void ReadPlan::provide(const ByteRequest& request, ByteView bytes, uint64_t object_size,
                       const std::string& version) {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  Object& o = object_of(request.key);
  if (spec_.sharded && o.index && !version.empty() && !o.index->version.empty() &&
      version != o.index->version) {
    // The shard was rewritten since its index was read: the range was asked
    // for through the old index (it may even lie past the new object's end).
    forget_index(o);
    fetched_.release(o.key);
    return;
  }
  try {
    fetched_.provide(request.key, request.range, bytes, object_size, version);
  } catch (const Error& e) {
    throw e.in(spec_.store_name + ": ");
  }
  if (spec_.sharded && !o.index) {
    try_index(o);
  } else {
    refresh(o);
  }
}

void ReadPlan::provide_missing(const ByteRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  Object& o = object_of(request.key);
  fetched_.provide_missing(request.key);
  if (spec_.sharded) {
    o.missing = true;  // deleted between the index read and now: the fill value
    o.index.reset();
  }
  refresh(o);
}

int64_t ReadPlan::decode_ready(uint8_t* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  std::vector<int64_t> batch;
  batch.swap(ready_);
  std::vector<TaskOutcome> outcome;
  const int split = decode_threads_per_task(int64_t(batch.size()), threads_);
  run_deferring(
      int64_t(batch.size()),
      [&](int64_t i, bool may_defer) {
        const int64_t t = batch[size_t(i)];
        const Object& o = objects_[task_object_[size_t(t)]];
        TaskInput input{&cached_fetched_, o.index.get(),
                        state_[size_t(t)] == TaskState::kCached, may_defer, split};
        return run_chunk_task(spec_, grid_, t, input, out);
      },
      threads_, outcome);
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t t = batch[i];
    Object& o = objects_[task_object_[size_t(t)]];
    if (outcome[i] == TaskOutcome::kNotCached) {  // evicted since planning: fetch it after all
      state_[size_t(t)] = TaskState::kWaiting;
      if (bytes_present(t)) {
        state_[size_t(t)] = TaskState::kReady;
        ready_.push_back(t);
      }
      continue;
    }
    state_[size_t(t)] = TaskState::kDone;
    --left_;
    if (--o.left == 0) {
      fetched_.release(o.key);
      released_.push_back(o.key);
      if (!o.alt_key.empty()) {
        fetched_.release(o.alt_key);
        released_.push_back(o.alt_key);
      }
    }
  }
  return left_;
}

void ReadPlan::finish(uint8_t* out) {
  if (decode_ready(out) == 0) return;
  std::lock_guard<std::mutex> lock(mutex_);
  for (int64_t t = 0; t < int64_t(state_.size()); ++t)
    if (state_[size_t(t)] != TaskState::kDone) fail_unfetched(t);
}

void ReadPlan::fail_unfetched(int64_t t) const {
  const Object& o = objects_[task_object_[size_t(t)]];
  throw Error(ErrorKind::kNotFetched,
              spec_.store_name + ": chunk '" + o.key + "': its bytes were never provided");
}

std::vector<std::string> ReadPlan::take_released() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  out.swap(released_);
  return out;
}

std::vector<std::string> ReadPlan::object_keys() {
  std::lock_guard<std::mutex> lock(mutex_);
  build_tables();
  std::vector<std::string> keys;
  keys.reserve(objects_.size());
  for (const Object& o : objects_) keys.push_back(o.key);
  return keys;
}

}  // namespace fastchunk
