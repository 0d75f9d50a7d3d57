// One task of a read: the part of one chunk a selection takes, written into
// the output from the decoded-chunk cache, or read through a source (the
// shard entry's byte range when sharded), decoded whole or only in the part
// needed, and copied; the fill value where nothing is stored.
#pragma once
#include <cstdint>
#include <string>

#include "engine/array_spec.h"
#include "engine/shard_index.h"
#include "engine/task_grid.h"
#include "io/byte_source.h"

namespace fastchunk {

// Key of a decoded chunk in the decoded-chunk cache. The decoded size keeps
// an array rewritten with other chunks (same keys) from ever being handed a
// cached buffer of the wrong size.
// The version of the object a chunk task reads, as the source reports it
// now ("" where unknown): `key`'s, or, for v2 stores written nested, its
// nested key's when only that exists. The decoded levels key on it.
std::string stored_object_version(const ArraySpec& spec, ByteSource& source,
                                  const std::string& key, const int64_t* coords);

enum class TaskOutcome {
  kDone,
  kNotCached,  // cache_only, and the chunk was not in the decoded-chunk cache
  kBusy,       // may_defer, and another process is decoding the chunk for the shared cache
};

struct TaskInput {
  ByteSource* source;        // where the stored bytes come from
  const ShardIndex* index;   // sharded: the shard's index, null when the shard does not exist
  bool cache_only = false;   // copy from the decoded-chunk cache, or give up (kNotCached)
  bool may_defer = false;    // leave a chunk another process is decoding for later (kBusy)
  int decode_threads = 1;    // threads one chunk's decode may split over (reads of few chunks)
};

// Threads each of `tasks` chunk tasks may split its decode over when a read
// of `tasks` chunks runs on `threads` threads (threads < 1: the calling
// thread's count): the threads the chunks alone would leave idle.
int decode_threads_per_task(int64_t tasks, int threads);

// decode_chunk, split over up to `threads` threads where the chain and the
// stream allow it (codecs/chain.h: split_decode).
void decode_chunk_on(const ChainSpec& chain, ByteView raw, uint8_t* out, size_t out_size,
                     int threads);

// Writes task t of `grid` into `out`. Errors name the store and the chunk.
TaskOutcome run_chunk_task(const ArraySpec& spec, const TaskGrid& grid, int64_t t,
                           const TaskInput& input, uint8_t* out);

}  // namespace fastchunk
