// The process-level caches (decoded chunks, compressed bytes) live in each
// process's heap; `fastchunk cache`, another process, reports them from a
// The process-level caches (decoded chunks, compressed bytes) live in each
// process's heap; `fastchunk cache`, another process, reports them from a
// small page each process publishes: DIR/fastchunk-process-PID.RANDOM.stats
// (DIR where the node's shared caches live), mapped shared and updated in
// place with relaxed atomics as the caches change. The page is a file the
// process makes itself (O_EXCL|O_NOFOLLOW) under a name no one can guess, in
// a directory no other user can change (or a sticky one such as /dev/shm):
// no one can turn it into a write elsewhere, nor cut it short under the
// mapping. Readers read pages (never map them); a page whose process is gone
// (pid dead, or reused by a process started later) is removed by a reader of
// the same user. A forked child publishes a page of its own.
//
// The buffer pool (common/buffer_pool.h) is a third level: its numbers go on
// the page once the page exists, and a process whose pool keeps at least
// kPoolPageBytes opens its page for them (retained memory shows even in a
// process with no cache on), once the directory is known
// (set_process_stats_dir).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cache/byte_lru.h"

namespace fastchunk {

enum class ProcessLevel : int { kDecoded = 0, kCompressed = 1, kBufferPool = 2, kCount = 3 };

constexpr uint64_t kPoolPageBytes = uint64_t(64) << 20;

struct LevelNumbers {
  uint64_t capacity = 0, used = 0, entries = 0, hits = 0, misses = 0, evictions = 0;
};

// Starts publishing into `dir` (made if needed); "" stops and removes the page.
// Throws an I/O Error when `dir` lies where another user could change it.
void publish_process_stats_in(const std::string& dir);
// Names the directory without opening the page: it opens when a level first
// has something to show (a cache turned on, the pool keeping kPoolPageBytes).
// A directory another user could change is then passed over: no page.
void set_process_stats_dir(const std::string& dir);
// Whether publish_process_stats_in() named a directory (cheap: one atomic load).
bool process_stats_published();
// The level's numbers now; a no-op until publishing started.
void publish_level(ProcessLevel level, const LevelNumbers& numbers);
// The buffer pool's numbers (its listener); opens the page as said above.
void publish_buffer_pool();
// Removes this process's page and stops publishing (at exit).
void unpublish_process_stats();

struct PublishedProcess {
  int64_t pid = 0;
  LevelNumbers levels[int(ProcessLevel::kCount)];
};
// The pages of live processes in `dir`; pages of dead processes are removed.
std::vector<PublishedProcess> read_published_processes(const std::string& dir);

}  // namespace fastchunk
