// The native thread pool: created lazily, rebuilt in a forked child, shared
// by every Python thread. The calling thread works on its own job too, so a
// job never waits for a free worker.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

namespace fastchunk {

// Runs fn(0) ... fn(n - 1) on up to `threads` threads, the caller included
// (threads < 1: num_threads(), the calling thread's count). The first
// exception thrown by fn stops the remaining indices and is rethrown here
// once every started index has finished.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn, int threads = 0);

// Work handed to the pool's idle workers while the calling thread goes on
// with its own (a read populating its fresh output's pages while it decodes
// into them): fn(0) ... fn(n - 1) run on up to `threads` - 1 workers, oldest
// posted work first. wait(), or the destructor, runs on the calling thread
// whatever no worker took, then waits for the rest. What fn throws is dropped.
class BackgroundWork {
 public:
  BackgroundWork(int64_t n, std::function<void(int64_t)> fn, int threads = 0);
  ~BackgroundWork();
  BackgroundWork(const BackgroundWork&) = delete;
  BackgroundWork& operator=(const BackgroundWork&) = delete;
  void wait();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

void set_num_threads(int n);  // n < 1 means: the cores this process may use
// The count for the calling thread: its own count when it set one with
// set_thread_num_threads, else the process-wide count.
int num_threads();
int default_num_threads();

// A count for the calling thread only (n < 1: back to the process-wide
// count). A loader's prefetch thread uses it so that its reads run on its
// own number of threads without changing what other threads use.
void set_thread_num_threads(int n);

}  // namespace fastchunk
