// The native thread pool: created lazily, rebuilt in a forked child, shared
// by every Python thread. The calling thread works on its own job too, so a
// job never waits for a free worker.
#pragma once
#include <cstdint>
#include <functional>

namespace fastchunk {

// Runs fn(0) ... fn(n - 1) on up to `threads` threads, the caller included
// (threads < 1: num_threads(), the process-wide setting). The first
// exception thrown by fn stops the remaining indices and is rethrown here
// once every started index has finished.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads = 0);

void set_num_threads(int n);  // n < 1 means: the cores this process may use
int num_threads();
int default_num_threads();

}  // namespace fastchunk
