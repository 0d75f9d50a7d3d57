// One read of an orthogonal selection, planned once: which chunks it takes
// (tasks), which stored objects hold them and, for remote reads, which byte
// ranges to fetch.
//
// Local reads run the plan in one call through a LocalSource (execute).
// Remote reads serve it in rounds, with no Python in the decode loop:
//   pending()       the byte ranges still needed: the shard indexes the
//                   shard-index cache lacks, the inner chunks' byte ranges
//                   (neighbours coalesced), whole chunk objects, and the
//                   v2 nested key of a chunk found missing;
//   provide()       the caller's answer to a request (its memory must stay
//                   valid until the object is released, see take_released);
//   decode_ready()  decodes every task whose bytes are all present, each task
//                   exactly once, so decoding can start while later objects
//                   are still in flight;
//   finish()        decodes what is left and fails, naming a key, if any task
//                   still lacks bytes.
// Chunks found in the decoded-chunk cache when planning need no bytes; one
// evicted before it is copied makes pending() ask for its object after all.
// Chunks whose stored bytes are in the compressed cache (cache/stored_cache.h)
// need no request either: the plan provides those bytes to itself.
// One thread at a time may call a plan; each call holds its lock.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/array_spec.h"
#include "engine/shard_index.h"
#include "cache/stored_cache.h"
#include "engine/task_grid.h"
#include "io/fetched_source.h"

namespace fastchunk {

class ReadPlan {
 public:
  // Bytes read in between two needed inner chunks of a shard rather than a
  // second request, and the largest coalesced request.
  static constexpr uint64_t kCoalesceGap = uint64_t(256) << 10;
  static constexpr uint64_t kMaxRequest = uint64_t(64) << 20;

  // Checks the selection (Error kIndex); `spec` must outlive the plan, the
  // selection's index arrays need not. num_threads < 1: the calling thread's
  // count. With skip_cached false, chunks in the decoded-chunk cache are
  // fetched all the same (callers that need every stored object's bytes).
  ReadPlan(const ArraySpec& spec, const Selection& sel, int num_threads = 0,
           bool skip_cached = true);
  ReadPlan(const ReadPlan&) = delete;
  ReadPlan& operator=(const ReadPlan&) = delete;

  // Bytes of the C-order output every decoding call writes into.
  uint64_t output_nbytes() const { return output_nbytes_; }
  int threads() const { return threads_; }  // the threads its decoding runs on
  int64_t ntasks() const { return grid_.ntasks(); }

  // The whole read through `source` (local files): every byte of `out`
  // written once, with decoded data or the fill value.
  void execute(ByteSource& source, uint8_t* out);

  // The versions the caller's store last learned for objects of this read
  // (before pending()): shard indexes are looked up in the shard-index cache
  // under them. Objects not named are looked up under an unknown version.
  void know_versions(const std::vector<std::string>& keys,
                     const std::vector<std::string>& versions);
  // Whether pending() coalesces neighbouring inner chunks of a shard into one
  // range (default). Off, each inner chunk is its own request: a disk cache
  // below keys each chunk's range the same whatever the batch, and coalesces
  // the ranges it lacks itself.
  void set_coalesce(bool on);
  std::vector<ByteRequest> pending();
  // `version`: the object's version as the store reported it with this
  // answer ("" when it did not), which the caches key on. An answer of
  // another version than the shard index in use shows the shard was
  // rewritten: the index is dropped (and uncached), and pending() asks for
  // it again before any inner chunk of the new object.
  void provide(const ByteRequest& request, ByteView bytes, uint64_t object_size,
               const std::string& version = std::string());
  void provide_missing(const ByteRequest& request);
  int64_t decode_ready(uint8_t* out);  // returns the number of tasks left
  void finish(uint8_t* out);
  // Keys whose bytes the plan no longer needs (all their tasks are done)
  // since the last call: their memory may be let go.
  std::vector<std::string> take_released();

  // The stored objects (chunk or shard keys) the read touches, first use first.
  std::vector<std::string> object_keys();

 private:
  enum class TaskState : uint8_t { kWaiting, kCached, kReady, kDone };
  struct Object {
    std::string key;
    std::string alt_key;  // v2 without dimension_separator: the '/' key; "" when none
    std::vector<int64_t> tasks;
    int64_t left = 0;     // tasks not done
    std::shared_ptr<const ShardIndex> index;
    std::string known_version;  // as the caller's store last learned it
    bool looked_up = false;     // the shard-index cache was asked for the index
    bool missing = false; // a shard known absent
  };

  void build_tables();
  Object& object_of(const std::string& key);
  bool bytes_present(int64_t t) const;
  void refresh(Object& o);
  void provide_stored(Object& o);
  void try_index(Object& o);
  void forget_index(Object& o);
  // Task t (at `loc`) is ready from the decoded-chunk cache when it holds
  // the chunk at the version known now.
  void mark_if_cached(int64_t t, const TaskLocation& loc);
  void append_requests(const Object& o, std::vector<ByteRequest>& out) const;
  [[noreturn]] void fail_unfetched(int64_t t) const;

  const ArraySpec& spec_;
  TaskGrid grid_;
  int threads_;
  bool skip_cached_;
  bool coalesce_ = true;
  uint64_t output_nbytes_;
  std::mutex mutex_;

  // The tables of the fetch protocol, built on first use.
  bool tables_ = false;
  std::vector<Object> objects_;
  std::unordered_map<std::string, uint32_t> slot_;  // object and alternative keys
  std::vector<uint32_t> task_object_;
  std::vector<int64_t> task_inner_;
  std::vector<TaskState> state_;
  std::vector<int64_t> ready_;
  int64_t left_ = 0;
  FetchedSource fetched_;
  CachedSource cached_fetched_{fetched_, spec_.store_id, false};
  std::vector<std::shared_ptr<const StoredBytes>> from_stored_;  // bytes provided from the cache
  std::vector<std::string> released_;
};

// Whether local reads hint the chunks ahead of the decoding threads to the
// source (on by default; see ReadAhead in read_plan.cc).
void set_read_ahead(bool on);
bool read_ahead();

// A whole read in one call: ReadPlan(spec, sel).execute(source, out).
void read_selection(const ArraySpec& spec, ByteSource& source, const Selection& sel,
                    uint8_t* out, int num_threads = 0);

}  // namespace fastchunk
